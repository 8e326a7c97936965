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
    public void close() {
    }
}
