package dev.kvbm.api.spi;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;

/** Test double: a Storage with an extent and no memory behind it, for tests of batch validation logic. */
record RegionOnlyStorage(StorageKind kind, MemoryRegion region) implements Storage {
    @Override
    public boolean isClosed() {
        return false;
    }

    @Override
    public Lifetime.Lease acquire() {
        throw new UnsupportedOperationException("a region-only storage has no memory to lease");
    }

    @Override
    public Lifetime.Hook onClose(String holder, Runnable withdraw) {
        throw new UnsupportedOperationException("a region-only storage cannot be registered");
    }

    @Override
    public void close() {
    }
}
