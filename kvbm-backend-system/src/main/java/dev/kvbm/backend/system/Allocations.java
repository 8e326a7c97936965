package dev.kvbm.backend.system;

import dev.kvbm.api.StorageKind;

import java.util.Locale;

/** Argument checks shared by this module's storage providers. */
final class Allocations {
    private Allocations() {
    }

    static void check(String provider, StorageKind kind, boolean supported, long size, long alignment) {
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
    }
}
