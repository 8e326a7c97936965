package dev.kvbm.backend.cuda;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.StorageProvider;

import java.util.Locale;

/** What the CUDA storage providers check before they ask the driver for memory. */
final class CudaStorageProviders {
    private CudaStorageProviders() {
    }

    /** What the Pinned and Device providers promise: alignment to 64 KiB, 1 GiB at once, not zeroed. */
    static final dev.kvbm.api.spi.StorageCapabilities CAPABILITIES =
            new dev.kvbm.api.spi.StorageCapabilities(1L << 16, 1L << 30, false);

    /** The checks every provider makes, plus this backend's limit on alignment. */
    static void checkRequest(String provider, StorageKind kind, boolean supported, long size, long alignment) {
        StorageProvider.checkAllocation(provider, kind, supported, size, alignment);
        if (alignment > 1L << 30) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "alignment %d for %s storage exceeds 1 GiB, the largest this backend honours", alignment, kind));
        }
    }

    /**
     * Bytes to ask the driver for so that an {@code alignment}-aligned range of {@code size} fits.
     *
     * @throws IllegalArgumentException when that exceeds what a 64-bit size can say
     */
    static long padded(StorageKind kind, long size, long alignment, long driverAlignment) {
        if (alignment <= driverAlignment) {
            return size;
        }
        if (size > Long.MAX_VALUE - alignment) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "cannot allocate %d bytes of %s storage aligned to %d: the size plus the alignment overflows",
                    size, kind, alignment));
        }
        return size + alignment;
    }

    static long alignUp(long address, long alignment) {
        return (address + alignment - 1) & -alignment;
    }
}
