package com.example.kvbm.shm;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.tck.StorageVerification;

/** The kit's storage rules (1.x) for this backend's memory; its promises come from capabilities(kind). */
class ShmStorageConformanceTest extends StorageVerification {
    private static final StorageProvider PROVIDER = new ShmStorageProvider();

    @Override
    protected StorageProvider provider() {
        return PROVIDER;
    }

    @Override
    protected StorageKind kind() {
        return ShmStorageProvider.KIND;
    }
}
