package dev.kvbm.backend.system;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.Storage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class DiskStorageProviderTest {
    @TempDir
    Path dir;

    @Test
    void isAvailableWithNativeAccessOnLinux() {
        assertThat(new DiskStorageProvider(dir).unavailabilityCause()).isEmpty();
    }

    @Test
    void createsAPreallocatedFileThatOnlyItsFdKeepsSoNothingOutlivesTheProcess() throws Exception {
        DiskStorageProvider provider = new DiskStorageProvider(dir);
        Storage s = provider.allocate(StorageKind.disk(0), 1 << 20);
        FileStorage file = (FileStorage) s;
        assertThat(file.path().getParent()).isEqualTo(dir);
        assertThat(s.kind().type()).isEqualTo(StorageKind.Type.DISK);
        assertThat(s.kind().fd()).isGreaterThan(2);
        // Unlinked at once: the directory is empty while the storage is open, and the fd holds the whole file.
        try (var listing = Files.list(dir)) {
            assertThat(listing.toList()).isEmpty();
        }
        Path byFd = Path.of("/proc/self/fd/" + s.kind().fd());
        assertThat(Files.size(byFd)).isEqualTo(1 << 20);
        // O_TMPFILE: the file never had a name ("/dir/#inode (deleted)"), so no crash can leave it behind.
        assertThat(Files.readSymbolicLink(byFd).toString()).startsWith(dir + "/").endsWith(" (deleted)");
        assertThat(s.region().address()).isZero();
        assertThat(provider.bytesOutstanding()).isEqualTo(1 << 20);
        s.close();
        s.close();
        assertThat(provider.bytesOutstanding()).isZero();
        assertThat(provider.allocationsOutstanding()).isZero();
    }

    @Test
    void filesLeftByADeadProcessAreReclaimedAndALiveProcessesFilesAreNot() throws Exception {
        Process gone = new ProcessBuilder("true").start();
        gone.waitFor();
        Path stale = Files.createFile(dir.resolve("kvbm-disk-" + gone.pid() + "-7.bin"));
        Path live = Files.createFile(dir.resolve("kvbm-disk-" + ProcessHandle.current().pid() + "-999999.bin"));
        Path unrelated = Files.createFile(dir.resolve("notes.txt"));
        DiskStorageProvider provider = new DiskStorageProvider(dir);
        provider.allocate(StorageKind.disk(0), 4096).close();
        assertThat(stale).doesNotExist();
        assertThat(live).exists();
        assertThat(unrelated).exists();
    }

    @Test
    void positionalWritesAndReadsRoundTrip() {
        DiskStorageProvider provider = new DiskStorageProvider(dir);
        byte[] data = new byte[100_003];
        new Random(7).nextBytes(data);
        try (Storage s = provider.allocate(StorageKind.disk(0), 300_000); Arena arena = Arena.ofConfined()) {
            FileStorage file = (FileStorage) s;
            MemorySegment src = arena.allocate(data.length);
            MemorySegment.copy(data, 0, src, java.lang.foreign.ValueLayout.JAVA_BYTE, 0, data.length);
            file.write(12_345, src);
            MemorySegment back = arena.allocate(data.length);
            file.read(12_345, back);
            assertThat(back.mismatch(src)).isEqualTo(-1);
            MemorySegment untouched = arena.allocate(12_345);
            file.read(0, untouched);
            assertThat(untouched.mismatch(arena.allocate(12_345))).isEqualTo(-1);
        }
    }

    @Test
    void aReadNeverWritesIntoAReadOnlyOrHeapSegment() {
        DiskStorageProvider provider = new DiskStorageProvider(dir);
        try (Storage s = provider.allocate(StorageKind.disk(0), 4096); Arena arena = Arena.ofConfined()) {
            FileStorage file = (FileStorage) s;
            MemorySegment data = arena.allocate(64).fill((byte) 0x5A);
            file.write(0, data);
            MemorySegment target = arena.allocate(64);
            MemorySegment readOnly = target.asReadOnly();
            assertThatThrownBy(() -> file.read(0, readOnly)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("read-only segment").hasMessageContaining("must be writable");
            assertThat(target.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)).containsOnly((byte) 0);
            // A read-only source is fine to write from.
            file.write(64, data.asReadOnly());
            byte[] heap = new byte[64];
            assertThatThrownBy(() -> file.read(0, MemorySegment.ofArray(heap)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs a native segment");
            assertThatThrownBy(() -> file.write(0, MemorySegment.ofArray(heap)))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("needs a native segment");
            assertThatThrownBy(() -> file.read(0, null)).isInstanceOf(NullPointerException.class)
                    .hasMessage("destination");
        }
    }

    @Test
    void outOfRangeAndUseAfterCloseAreRejected() {
        DiskStorageProvider provider = new DiskStorageProvider(dir);
        Storage s = provider.allocate(StorageKind.disk(0), 4096);
        FileStorage file = (FileStorage) s;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(100);
            assertThatThrownBy(() -> file.write(4000, buf)).isInstanceOf(IndexOutOfBoundsException.class)
                    .hasMessageContaining("write of 100 bytes at offset 4000 lies outside");
            assertThatThrownBy(() -> file.read(-1, buf)).isInstanceOf(IndexOutOfBoundsException.class);
            s.close();
            assertThatThrownBy(() -> file.read(0, buf)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("is closed");
        }
    }

    @Test
    void aMissingDirectoryIsAClearError() {
        DiskStorageProvider provider = new DiskStorageProvider(dir.resolve("does-not-exist"));
        assertThatThrownBy(() -> provider.allocate(StorageKind.disk(0), 4096)).isInstanceOf(KvbmException.class)
                .hasMessageContaining("does not exist or is not writable")
                .hasMessageContaining("-Dkvbm.disk.dir");
    }

    @Test
    void noSpaceFailsAtAllocationNotMidOffload() {
        DiskStorageProvider provider = new DiskStorageProvider(dir);
        // Far more than any test machine's disk: refused up front, before a byte is written.
        assertThatThrownBy(() -> provider.allocate(StorageKind.disk(0), 1L << 60))
                .isInstanceOf(KvbmException.class)
                .hasMessageContaining("ENOSPC").hasMessageContaining("bytes free, " + (1L << 60) + " asked");
        assertThat(provider.allocationsOutstanding()).isZero();
        try (var files = Files.list(dir)) {
            assertThat(files).isEmpty();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
