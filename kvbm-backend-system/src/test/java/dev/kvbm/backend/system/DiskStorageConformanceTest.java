package dev.kvbm.backend.system;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.tck.StorageVerification;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The disk tier against the kit's storage rules (files in java.io.tmpdir, opened with O_DIRECT). */
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

    /** The rules above verify direct I/O, not the page cache: java.io.tmpdir is on a disk file system here. */
    @Test
    void theRulesRunWithODirect() {
        try (Storage s = PROVIDER.allocate(kind(), 4096)) {
            assertThat(((FileStorage) s).directIo()).as("O_DIRECT on %s", s).isTrue();
            assertThat(DirectDiskIoTest.openFlags((int) s.kind().fd()) & DirectDiskIoTest.O_DIRECT).isNotZero();
        }
    }

}
