package com.example.kvbm.shm;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.spi.TransferExecutorProvider;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.tck.TransferExecutorVerification;
import org.junit.jupiter.api.Nested;

/** The kit's executor rules (2.x) for each pair of kinds the executor copies, over its own and reference memory. */
class ShmCopyConformanceTest {
    private static final StorageProvider SHM = new ShmStorageProvider();
    /** The reference backend's System memory, found as any caller finds it. */
    private static final StorageProvider SYSTEM = Backends.shared().storageProvider(StorageKind.SYSTEM);

    private abstract static class Pair extends TransferExecutorVerification {
        @Override
        protected TransferExecutorProvider executorProvider() {
            return new ShmCopyExecutorProvider();
        }

        @Override
        protected StorageProvider sourceProvider() {
            return sourceKind().equals(StorageKind.SYSTEM) ? SYSTEM : SHM;
        }

        @Override
        protected StorageProvider destinationProvider() {
            return destinationKind().equals(StorageKind.SYSTEM) ? SYSTEM : SHM;
        }
    }

    @Nested
    class ShmToShm extends Pair {
        @Override
        protected StorageKind sourceKind() {
            return ShmStorageProvider.KIND;
        }

        @Override
        protected StorageKind destinationKind() {
            return ShmStorageProvider.KIND;
        }
    }

    @Nested
    class ShmToSystem extends Pair {
        @Override
        protected StorageKind sourceKind() {
            return ShmStorageProvider.KIND;
        }

        @Override
        protected StorageKind destinationKind() {
            return StorageKind.SYSTEM;
        }
    }

    @Nested
    class SystemToShm extends Pair {
        @Override
        protected StorageKind sourceKind() {
            return StorageKind.SYSTEM;
        }

        @Override
        protected StorageKind destinationKind() {
            return ShmStorageProvider.KIND;
        }
    }
}
