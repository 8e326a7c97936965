package dev.kvbm.backend.system;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.tck.StorageVerification;

/** System memory against the kit's storage rules. */
class SystemMemoryConformanceTest extends StorageVerification {
    private static final StorageProvider PROVIDER = new SystemStorageProvider();

    @Override
    protected StorageProvider provider() {
        return PROVIDER;
    }

    @Override
    protected StorageKind kind() {
        return StorageKind.SYSTEM;
    }

}
