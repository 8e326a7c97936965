package dev.kvbm.backend.nixl;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.tck.StorageVerification;
import org.junit.jupiter.api.BeforeEach;

/** UCX-allocated host memory against the kit's storage rules. */
class UcxHostStorageConformanceTest extends StorageVerification {
    private static final StorageProvider PROVIDER = new UcxHostStorageProvider();

    @BeforeEach
    void requireUcx() {
        Ucx.assumeAvailable();
    }

    @Override
    protected StorageProvider provider() {
        return PROVIDER;
    }

    @Override
    protected StorageKind kind() {
        return StorageKind.SYSTEM;
    }


}
