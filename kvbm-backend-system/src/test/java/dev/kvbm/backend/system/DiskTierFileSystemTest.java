package dev.kvbm.backend.system;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Storage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The disk tier against file systems the test makes: one without O_DIRECT, a full one, and a process killed. */
class DiskTierFileSystemTest {
    @TempDir
    Path dir;

    @Test
    void aFileSystemThatRefusesODirectGetsBufferedFilesAndOneWarning() throws Exception {
        // tmpfs accepts O_DIRECT since Linux 6.6; ramfs refuses it on every kernel.
        try (ScratchMount ramfs = ScratchMount.mount(dir, "ramfs", null)) {
            Child child = Child.start("twice", ramfs.path);
            String out = child.readLine();
            assertThat(child.process.waitFor(60, TimeUnit.SECONDS)).isTrue();
            String err = Files.readString(child.stderr);
            assertThat(child.process.exitValue()).as("child stderr: %s", err).isZero();
            assertThat(out).isEqualTo("DIRECT false false");
            assertThat(err.split("refuses O_DIRECT", -1)).as("one warning for two allocations:\n%s", err).hasSize(2);
            assertThat(err).contains(ramfs.path.toString()).contains("-Dkvbm.disk.direct=false");
            try (var files = Files.list(ramfs.path)) {
                assertThat(files).isEmpty();
            }
        }
    }

    @Test
    void choosingBufferedIoGivesBufferedFilesWithNoAlignment() {
        DiskStorageProvider provider = new DiskStorageProvider(dir, Long.MAX_VALUE, false);
        try (Storage s = provider.allocate(StorageKind.disk(0), 1 << 20)) {
            assertThat(((DiskStorage) s).directIo()).isFalse();
            assertThat(((DiskStorage) s).ioAlignment()).isEqualTo(1);
            assertThat(DirectDiskIoTest.openFlags((int) s.kind().fd()) & DirectDiskIoTest.O_DIRECT).isZero();
        }
    }

    @Test
    void anAllocationLargerThanTheFreeSpaceFailsBeforeWritingNamingEnospc() throws Exception {
        try (ScratchMount small = ScratchMount.mount(dir, "tmpfs", "size=4m")) {
            DiskStorageProvider provider = new DiskStorageProvider(small.path);
            assertThatThrownBy(() -> provider.allocate(StorageKind.disk(0), 8 << 20))
                    .isInstanceOf(KvbmException.class)
                    .hasMessageContaining("ENOSPC").hasMessageContaining(small.path.toString())
                    .hasMessageContaining("bytes free, " + (8 << 20) + " asked");
            assertThat(provider.bytesOutstanding()).isZero();
            assertThat(provider.allocationsOutstanding()).isZero();
            // What fits still works, and a file system that fills up between the check and posix_fallocate is
            // named the same way.
            try (Storage fits = provider.allocate(StorageKind.disk(0), 2 << 20)) {
                assertThat(fits.region().size()).isEqualTo(2 << 20);
                int fd = PosixFiles.createUnnamed(small.path);
                try {
                    assertThatThrownBy(() -> PosixFiles.preallocate(fd, small.path, 4 << 20))
                            .isInstanceOf(KvbmException.class).hasMessageContaining("posix_fallocate")
                            .hasMessageContaining("ENOSPC").hasMessageContaining("No space left on device");
                } finally {
                    PosixFiles.close(fd, small.path);
                }
            }
            try (var files = Files.list(small.path)) {
                assertThat(files).isEmpty();
            }
        }
    }

    @Test
    void theBudgetIsEnforcedAndNamed() {
        DiskStorageProvider provider = new DiskStorageProvider(dir, 3 << 20, true);
        try (Storage a = provider.allocate(StorageKind.disk(0), 2 << 20)) {
            assertThatThrownBy(() -> provider.allocate(StorageKind.disk(0), 2 << 20))
                    .isInstanceOf(KvbmException.class)
                    .hasMessageContaining("budget exceeded").hasMessageContaining((2 << 20) + " bytes asked")
                    .hasMessageContaining((2 << 20) + " of the budget of " + (3 << 20) + " bytes")
                    .hasMessageContaining("-Dkvbm.disk.budget");
            assertThat(provider.bytesOutstanding()).isEqualTo(2 << 20);
            assertThat(provider.inDirectory(dir)).isInstanceOfSatisfying(DiskStorageProvider.class,
                    p -> assertThat(p.budget()).isEqualTo(3 << 20));
        }
        provider.allocate(StorageKind.disk(0), 3 << 20).close();
        assertThat(DiskStorageProvider.parseBytes("b", "64m")).isEqualTo(64L << 20);
        assertThat(DiskStorageProvider.parseBytes("b", " 2T ")).isEqualTo(2L << 40);
        assertThat(DiskStorageProvider.parseBytes("b", "4096")).isEqualTo(4096);
        assertThat(DiskStorageProvider.parseBytes("b", null)).isEqualTo(Long.MAX_VALUE);
        for (String bad : List.of("0", "-5g", "lots", "99999999999t", "12x")) {
            assertThatThrownBy(() -> DiskStorageProvider.parseBytes("kvbm.disk.budget", bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("kvbm.disk.budget is '" + bad + "'").hasMessageContaining("e.g. 200g");
        }
    }

    @Test
    void aKilledJvmLeavesNoFileBehind() throws Exception {
        Child child = Child.start("hold", dir);
        try {
            String ready = child.readLine();
            assertThat(ready).as("child stderr: %s", Files.readString(child.stderr)).startsWith("READY ");
            // While it runs, the files exist only through its descriptors: nothing in the directory.
            try (var files = Files.list(dir)) {
                assertThat(files).isEmpty();
            }
            for (String fd : ready.substring(6).split(" ")) {
                Path link = Path.of("/proc", Long.toString(child.process.pid()), "fd", fd);
                assertThat(Files.readSymbolicLink(link).toString()).startsWith(dir.toString()).endsWith("(deleted)");
                assertThat(Files.size(link)).isEqualTo(8 << 20);
            }
        } finally {
            child.process.destroyForcibly(); // SIGKILL: no shutdown hook, no close
            assertThat(child.process.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        try (var files = Files.list(dir)) {
            assertThat(files).isEmpty();
        }
    }

    /** A {@link DiskTierChild} JVM on the class path, its stderr in a file. */
    private record Child(Process process, BufferedReader out, Path stderr) {
        static Child start(String mode, Path directory) throws IOException {
            List<String> classPath = new ArrayList<>();
            for (String property : List.of("jdk.module.path", "java.class.path")) {
                for (String entry : System.getProperty(property, "").split(File.pathSeparator)) {
                    if (!entry.isBlank()) {
                        classPath.add(entry);
                    }
                }
            }
            classPath.add(Path.of("target", "test-classes").toAbsolutePath().toString());
            classPath.add(Path.of("target", "classes").toAbsolutePath().toString());
            Path stderr = Files.createTempFile("kvbm-disk-child", ".log");
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny",
                    "-cp", String.join(File.pathSeparator, classPath), DiskTierChild.class.getName(), mode,
                    directory.toString()).redirectError(stderr.toFile()).start();
            return new Child(p, new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8)),
                    stderr);
        }

        String readLine() throws IOException {
            return out.readLine();
        }
    }
}
