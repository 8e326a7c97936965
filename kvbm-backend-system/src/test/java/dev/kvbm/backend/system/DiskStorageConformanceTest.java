package dev.kvbm.backend.system;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.tck.StorageVerification;

/** The disk tier against the kit's storage rules (files in java.io.tmpdir). */
class DiskStorageConformanceTest extends StorageVerification {
    private static final StorageProvider PROVIDER = new DiskStorageProvider();

    @Override
    protected StorageProvider provider() {
        return PROVIDER;
    }

    @Override
    protected StorageKind kind() {
        return StorageKind.disk(0);
    }

    @Override
    protected long largestAllocation() {
        return 256L << 20;
    }
}
