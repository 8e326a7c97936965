package dev.kvbm.backend.system;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.spi.TransferExecutorProvider;
import dev.kvbm.tck.TransferExecutorVerification;
import org.junit.jupiter.api.Nested;

/** The copy executor against the kit's executor rules, for each pair of kinds it copies. */
class HostCopyConformanceTest {
    private static final StorageProvider MEMORY = new SystemStorageProvider();
    private static final StorageProvider DISK = new DiskStorageProvider();

    private abstract static class Pair extends TransferExecutorVerification {
        @Override
        protected TransferExecutorProvider executorProvider() {
            return new HostCopyExecutorProvider();
        }

        @Override
        protected StorageProvider sourceProvider() {
            return sourceKind().type() == StorageKind.Type.DISK ? DISK : MEMORY;
        }

        @Override
        protected StorageProvider destinationProvider() {
            return destinationKind().type() == StorageKind.Type.DISK ? DISK : MEMORY;
        }
    }

    @Nested
    class SystemToSystem extends Pair {
        @Override
        protected StorageKind sourceKind() {
            return StorageKind.SYSTEM;
        }

        @Override
        protected StorageKind destinationKind() {
            return StorageKind.SYSTEM;
        }
    }

    @Nested
    class SystemToDisk extends Pair {
        @Override
        protected StorageKind sourceKind() {
            return StorageKind.SYSTEM;
        }

        @Override
        protected StorageKind destinationKind() {
            return StorageKind.disk(0);
        }
    }

    @Nested
    class DiskToSystem extends Pair {
        @Override
        protected StorageKind sourceKind() {
            return StorageKind.disk(0);
        }

        @Override
        protected StorageKind destinationKind() {
            return StorageKind.SYSTEM;
        }
    }
}
