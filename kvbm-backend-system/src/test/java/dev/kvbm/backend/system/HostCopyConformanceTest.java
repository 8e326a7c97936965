package dev.kvbm.backend.system;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.spi.TransferExecutorProvider;
import dev.kvbm.tck.TransferExecutorVerification;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The copy executor against the kit's executor rules, for each pair of kinds it copies. */
class HostCopyConformanceTest {
    private static final StorageProvider MEMORY = new SystemStorageProvider();
    private static final StorageProvider DISK = new DiskStorageProvider();

    /** The host<->disk rules run against files opened with O_DIRECT (java.io.tmpdir is on a disk file system). */
    @Test
    void theDiskRulesRunWithODirect() {
        try (Storage s = DISK.allocate(StorageKind.disk(0), 4096)) {
            assertThat(((FileStorage) s).directIo()).as("O_DIRECT on %s", s).isTrue();
        }
    }

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
