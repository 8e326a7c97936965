package dev.kvbm.backend.system;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageAccounting;
import dev.kvbm.api.spi.TransferBatch;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Direct I/O on a disk file system: the flag is really set, unaligned transfers are staged, both engines work. */
class DirectDiskIoTest {
    static final int O_DIRECT = System.getProperty("os.arch", "").startsWith("aarch64") ? 0x10000 : 0x4000;
    private static final byte GUARD = (byte) 0xA5;

    @TempDir
    Path dir;
    DiskStorageProvider provider;

    @BeforeEach
    void provider() {
        provider = new DiskStorageProvider(dir, Long.MAX_VALUE, true);
    }

    /** The open flags of our own {@code fd}, from {@code /proc/self/fdinfo} (octal there). */
    static int openFlags(int fd) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/fdinfo/" + fd))) {
                if (line.startsWith("flags:")) {
                    return Integer.parseInt(line.substring(6).strip(), 8);
                }
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        throw new AssertionError("no flags in /proc/self/fdinfo/" + fd);
    }

    private DiskStorage allocateDirect(long size) {
        DiskStorage s = (DiskStorage) provider.allocate(StorageKind.disk(0), size);
        if (!s.directIo()) {
            s.close();
            Assumptions.abort("the file system of " + dir + " refuses O_DIRECT (tmpfs before Linux 6.6?): run with"
                    + " java.io.tmpdir on a disk file system");
        }
        return s;
    }

    @Test
    void filesAreOpenedWithODirectAndReportTheirAlignment() {
        try (DiskStorage s = allocateDirect(1 << 20)) {
            assertThat(openFlags((int) s.kind().fd()) & O_DIRECT).as("O_DIRECT in fdinfo").isNotZero();
            long alignment = s.ioAlignment();
            assertThat(Long.bitCount(alignment)).isOne();
            assertThat(alignment).isBetween(1L, 4096L);
            assertThat(s.toString()).contains("O_DIRECT");
            // Page-aligned host memory from our providers is direct as it is.
            try (Storage host = new SystemStorageProvider().allocate(StorageKind.SYSTEM, 1 << 20)) {
                assertThat(s.unstaged(0, 1 << 20, ((HostStorage) host).segment().address())).isTrue();
            }
        }
    }

    @Test
    void unalignedReadsAndWritesAreStagedAndTouchNothingElse() {
        long size = (1 << 20) + 777;
        Random random = new Random(12);
        byte[] model = new byte[(int) size];
        random.nextBytes(model);
        try (DiskStorage file = allocateDirect(size); Arena arena = Arena.ofConfined()) {
            MemorySegment whole = arena.allocate(size, 4096);
            MemorySegment.copy(model, 0, whole, ValueLayout.JAVA_BYTE, 0, model.length);
            file.write(0, whole); // the last unit is partial: staged
            for (int i = 0; i < 400; i++) {
                long offset = random.nextLong(size);
                int length = 1 + random.nextInt((int) Math.min(70_000, size - offset));
                int shift = random.nextInt(64); // host address misaligned (or not) as well
                MemorySegment space = arena.allocate(length + 128L, 4096).fill(GUARD);
                MemorySegment buffer = space.asSlice(64 + shift, length);
                if (random.nextBoolean()) {
                    byte[] data = new byte[length];
                    random.nextBytes(data);
                    MemorySegment.copy(data, 0, buffer, ValueLayout.JAVA_BYTE, 0, length);
                    file.write(offset, buffer);
                    System.arraycopy(data, 0, model, (int) offset, length);
                } else {
                    file.read(offset, buffer);
                    byte[] expected = new byte[length];
                    System.arraycopy(model, (int) offset, expected, 0, length);
                    assertThat(buffer.toArray(ValueLayout.JAVA_BYTE)).as("read %d at %d", length, offset)
                            .isEqualTo(expected);
                }
                assertGuards(space, 64 + shift, length);
            }
            MemorySegment back = arena.allocate(size, 4096);
            file.read(0, back);
            assertThat(back.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(model);
        }
    }

    private static void assertGuards(MemorySegment space, long start, long length) {
        for (long i = 0; i < space.byteSize(); i++) {
            if (i < start || i >= start + length) {
                if (space.get(ValueLayout.JAVA_BYTE, i) != GUARD) {
                    Assertions.fail("guard byte " + i + " around [" + start + ", " + (start + length) + ") changed");
                }
            }
        }
    }

    @Test
    void concurrentUnalignedWritesSharingAlignedUnitsAllLand() throws Exception {
        int writers = 8;
        int piece = 1000; // every 4096-byte unit is shared by several writers
        int pieces = 64;
        try (DiskStorage file = allocateDirect((long) writers * piece * pieces); Arena arena = Arena.ofShared()) {
            for (int round = 0; round < 20; round++) {
                int r = round;
                CyclicBarrier start = new CyclicBarrier(writers);
                List<CompletableFuture<Void>> done = new ArrayList<>();
                for (int w = 0; w < writers; w++) {
                    int writer = w;
                    MemorySegment data = arena.allocate(piece).fill((byte) (writer * 31 + r));
                    done.add(CompletableFuture.runAsync(() -> {
                        try {
                            start.await();
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                        for (int p = 0; p < pieces; p++) {
                            file.write(((long) p * writers + writer) * piece, data);
                        }
                    }, r2 -> new Thread(r2).start()));
                }
                CompletableFuture.allOf(done.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
                MemorySegment back = arena.allocate(file.region().size(), 4096);
                file.read(0, back);
                for (int p = 0; p < pieces * writers; p++) {
                    byte expected = (byte) ((p % writers) * 31 + r);
                    for (int b = 0; b < piece; b++) {
                        if (back.get(ValueLayout.JAVA_BYTE, (long) p * piece + b) != expected) {
                            Assertions.fail("round " + r + ": piece " + p + " byte " + b + " lost its write");
                        }
                    }
                }
            }
        }
    }

    @Test
    void theExecutorMovesRandomBlocksBothWaysThroughTheDiskEngine() throws Exception {
        int blocks = 48;
        long block = 2L << 20;
        String require = System.getProperty("kvbm.require", "") + "," + System.getenv().getOrDefault("KVBM_REQUIRE", "");
        boolean uring = IoUring.unavailabilityCause().isEmpty();
        if (!uring && List.of(require.split(",")).contains("io_uring")) {
            Assertions.fail("io_uring is unavailable here (" + IoUring.unavailabilityCause().get().getMessage()
                    + ") and KVBM_REQUIRE=io_uring says it must work");
        }
        SystemStorageProvider memory = new SystemStorageProvider();
        try (DiskStorage file = allocateDirect(blocks * block);
             Storage source = memory.allocate(StorageKind.SYSTEM, blocks * block);
             Storage back = memory.allocate(StorageKind.SYSTEM, blocks * block + 4096);
             HostCopyExecutor executor = new HostCopyExecutor("disk-test", 2)) {
            MemorySegment src = ((HostStorage) source).segment();
            Random random = new Random(3);
            for (long i = 0; i < src.byteSize(); i += 8) {
                src.set(ValueLayout.JAVA_LONG, i, random.nextLong());
            }
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < blocks; i++) {
                order.add(i);
            }
            Collections.shuffle(order, random);
            // Host block i goes to disk block order[i]; then disk block order[i] comes back to host block i, one
            // unaligned byte further (staged), and a guard page stays untouched.
            List<RegionPair> out = new ArrayList<>();
            List<RegionPair> in = new ArrayList<>();
            for (int i = 0; i < blocks; i++) {
                MemoryRegion host = new MemoryRegion(source.region().address() + i * block, block);
                MemoryRegion disk = new MemoryRegion(order.get(i) * block, block);
                out.add(new RegionPair(host, disk));
                in.add(new RegionPair(disk, new MemoryRegion(back.region().address() + 1 + i * block, block)));
            }
            MemorySegment dst = ((HostStorage) back).segment().fill(GUARD);
            executor.execute(new TransferBatch(source, file, out)).get(60, TimeUnit.SECONDS);
            assertThat(executor.diskEngineDescription()).isEqualTo((uring ? "io_uring" : "threads") + " x16");
            executor.execute(new TransferBatch(file, back, in)).get(60, TimeUnit.SECONDS);
            assertThat(dst.asSlice(1, blocks * block).mismatch(src)).isEqualTo(-1);
            assertThat(dst.get(ValueLayout.JAVA_BYTE, 0)).isEqualTo(GUARD);
            assertGuards(dst, 1, blocks * block);
        }
    }

    @Test
    void bothEnginesMoveBytesAndNameAFailedRequest() throws Exception {
        List<DiskIo> engines = new ArrayList<>(List.of(new ThreadedDiskIo("t", 4)));
        if (IoUring.unavailabilityCause().isEmpty()) {
            engines.add(new UringDiskIo("u", 8));
        }
        for (DiskIo engine : engines) {
            try (engine; DiskStorage file = allocateDirect(16 << 20); Arena arena = Arena.ofShared()) {
                MemorySegment data = arena.allocate(16 << 20, 4096);
                new Random(9).ints(data.byteSize() / 4).forEach(new java.util.function.IntConsumer() {
                    long at;

                    @Override
                    public void accept(int v) {
                        data.set(ValueLayout.JAVA_INT, at, v);
                        at += 4;
                    }
                });
                // One op of 10 MiB (cut into pieces), one unaligned op (staged), one aligned small op.
                engine.submit(List.of(new DiskIo.Op(file, true, 0, data.asSlice(0, 10 << 20)),
                        new DiskIo.Op(file, true, (10 << 20) + 3, data.asSlice((10 << 20) + 3, 5000)),
                        new DiskIo.Op(file, true, 12 << 20, data.asSlice(12 << 20, 4 << 20)))).get(60, TimeUnit.SECONDS);
                MemorySegment back = arena.allocate(16 << 20, 4096);
                engine.submit(List.of(new DiskIo.Op(file, false, 0, back))).get(60, TimeUnit.SECONDS);
                assertThat(back.asSlice(0, 10 << 20).mismatch(data.asSlice(0, 10 << 20))).as(engine.engine()).isEqualTo(-1);
                assertThat(back.asSlice((10 << 20) + 3, 5000).mismatch(data.asSlice((10 << 20) + 3, 5000))).isEqualTo(-1);
                assertThat(back.asSlice(12 << 20, 4 << 20).mismatch(data.asSlice(12 << 20, 4 << 20))).isEqualTo(-1);

                // A descriptor that is not open: the batch fails, naming the call's file, offset, length and errno,
                // after every piece finished; the engine goes on working.
                DiskStorage bogus = new DiskStorage(1 << 20, dir.resolve("bogus.bin"), 8 << 20, true, 512, 512,
                        new StorageAccounting());
                CompletableFuture<Void> failed = engine.submit(List.of(new DiskIo.Op(bogus, false, 4 << 20,
                        back.asSlice(0, 3 << 20))));
                assertThatThrownBy(() -> failed.get(60, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                        .cause().hasMessageContaining("bogus.bin").hasMessageContaining("offset=")
                        .hasMessageContaining("errno 9 EBADF (Bad file descriptor)");
                engine.submit(List.of(new DiskIo.Op(file, false, 0, back.asSlice(0, 1 << 20)))).get(60, TimeUnit.SECONDS);
            }
            assertThatThrownBy(() -> engine.submit(List.of(new DiskIo.Op(null, false, 0, MemorySegment.NULL.reinterpret(1)))))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
    }

    @Test
    void aReadPastTheEndOfTheFileIsResumedThenReportedNotSpunOn() throws Exception {
        // A storage whose region claims 8 MiB over a file of 1 MiB: the read comes back short, is resumed, and then
        // gets 0 bytes — which both engines report with how far it got.
        try (DiskStorage real = allocateDirect(1 << 20); Arena arena = Arena.ofShared()) {
            DiskStorage liar = new DiskStorage(real.fd(), real.path(), 8 << 20, true, 4096, 4096,
                    new StorageAccounting());
            List<DiskIo> engines = new ArrayList<>(List.of(new ThreadedDiskIo("t", 2)));
            if (IoUring.unavailabilityCause().isEmpty()) {
                engines.add(new UringDiskIo("u", 4));
            }
            for (DiskIo engine : engines) {
                try (engine) {
                    MemorySegment into = arena.allocate(2 << 20, 4096);
                    CompletableFuture<Void> f = engine.submit(List.of(new DiskIo.Op(liar, false, 0, into)));
                    assertThatThrownBy(() -> f.get(60, TimeUnit.SECONDS)).as(engine.engine())
                            .cause().hasMessageContaining("returned 0 after " + (1 << 20) + " of " + (2 << 20) + " bytes");
                }
            }
        }
    }
}
