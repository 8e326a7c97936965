package dev.kvbm.backend.cuda;

import dev.kvbm.api.StorageKind;

import java.util.Locale;

/** What the CUDA storage providers check before they ask the driver for memory. */
final class CudaStorageProviders {
    private CudaStorageProviders() {
    }

    static void checkRequest(String provider, StorageKind kind, boolean supported, long size, long alignment) {
        if (!supported) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s cannot allocate %s storage; ask Backends.storageProvider(kind) for a provider that can",
                    provider, kind));
        }
        if (size <= 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "cannot allocate %d bytes of %s storage: size must be > 0", size, kind));
        }
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "alignment %d for %s storage is not a power of two", alignment, kind));
        }
        if (alignment > 1L << 30) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "alignment %d for %s storage exceeds 1 GiB, the largest this backend honours", alignment, kind));
        }
    }

    /** Bytes to ask the driver for so that an {@code alignment}-aligned range of {@code size} fits. */
    static long padded(long size, long alignment, long driverAlignment) {
        return alignment <= driverAlignment ? size : Math.addExact(size, alignment);
    }

    static long alignUp(long address, long alignment) {
        return (address + alignment - 1) & -alignment;
    }
}
