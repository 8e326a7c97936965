package dev.kvbm.backend.system;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class HostCopyExecutorTest {
    @TempDir
    Path dir;

    private final SystemStorageProvider memory = new SystemStorageProvider();
    private final TransferExecutor executor = new HostCopyExecutorProvider().create();

    @AfterEach
    void tearDown() {
        executor.close();
        assertThat(memory.bytesOutstanding()).isZero();
    }

    private static void fill(HostStorage s, long seed) {
        Random r = new Random(seed);
        MemorySegment seg = s.segment();
        for (long i = 0; i < seg.byteSize(); i++) {
            seg.set(ValueLayout.JAVA_BYTE, i, (byte) r.nextInt());
        }
    }

    /**
     * {@code count} pairs of odd sizes (1..maxSize) at unaligned offsets: sources laid out in order, destinations
     * laid out in a shuffled order with at least one guard byte between any two.
     */
    private static List<RegionPair> randomPairs(Storage src, Storage dst, Random r, int count, int maxSize) {
        int[] sizes = new int[count];
        long[] srcAt = new long[count];
        long cursor = src.region().address() + 1;
        for (int i = 0; i < count; i++) {
            sizes[i] = 1 + r.nextInt(maxSize);
            cursor += r.nextInt(5);
            srcAt[i] = cursor;
            cursor += sizes[i];
        }
        List<Integer> order = new ArrayList<>(java.util.stream.IntStream.range(0, count).boxed().toList());
        java.util.Collections.shuffle(order, r);
        long[] dstAt = new long[count];
        cursor = dst.region().address() + 3;
        for (int i : order) {
            cursor += 1 + r.nextInt(7);
            dstAt[i] = cursor;
            cursor += sizes[i];
        }
        List<RegionPair> pairs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            pairs.add(new RegionPair(new MemoryRegion(srcAt[i], sizes[i]), new MemoryRegion(dstAt[i], sizes[i])));
        }
        return pairs;
    }

    private static void assertCopiedExactly(HostStorage src, HostStorage dst, byte[] dstBefore, List<RegionPair> pairs) {
        MemorySegment s = src.segment();
        MemorySegment d = dst.segment();
        byte[] expected = dstBefore.clone();
        for (RegionPair p : pairs) {
            long so = p.source().address() - src.region().address();
            int dof = (int) (p.destination().address() - dst.region().address());
            MemorySegment.copy(s, ValueLayout.JAVA_BYTE, so, expected, dof, (int) p.source().size());
        }
        byte[] actual = d.toArray(ValueLayout.JAVA_BYTE);
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] != actual[i]) {
                throw new AssertionError("byte " + i + " of destination is " + actual[i] + ", expected " + expected[i]);
            }
        }
    }

    @Test
    void copiesExactlyTheRequestedBytesAndNothingElse() throws Exception {
        Random r = new Random(1234);
        // Many small pairs, few large ones, and one batch above the parallel threshold (split across threads).
        for (int[] shape : new int[][] {{2000, 37}, {3, 200_000}, {500, 4096}, {400, 80_000}}) {
            try (HostStorage src = (HostStorage) memory.allocate(StorageKind.SYSTEM, 40L << 20);
                 HostStorage dst = (HostStorage) memory.allocate(StorageKind.SYSTEM, 40L << 20)) {
                fill(src, r.nextLong());
                fill(dst, r.nextLong());
                byte[] before = dst.segment().toArray(ValueLayout.JAVA_BYTE);
                List<RegionPair> pairs = randomPairs(src, dst, r, shape[0], shape[1]);
                assertThat(pairs).hasSize(shape[0]);
                executor.execute(new TransferBatch(src, dst, pairs)).get(30, TimeUnit.SECONDS);
                assertCopiedExactly(src, dst, before, pairs);
            }
        }
    }

    @Test
    void partitionBalancesBytesAndCoversEveryByteOnce() {
        List<RegionPair> pairs = List.of(
                new RegionPair(new MemoryRegion(0, 10), new MemoryRegion(1000, 10)),
                new RegionPair(new MemoryRegion(100, 25), new MemoryRegion(2000, 25)),
                new RegionPair(new MemoryRegion(200, 5), new MemoryRegion(3000, 5)));
        List<List<RegionPair>> parts = HostCopyExecutor.partition(pairs, 4);
        assertThat(parts).hasSize(4);
        assertThat(parts).extracting(p -> p.stream().mapToLong(x -> x.source().size()).sum())
                .containsExactly(10L, 10L, 10L, 10L);
        // The middle pair is cut where the shares end, on both sides at the same offsets.
        assertThat(parts.get(1)).containsExactly(
                new RegionPair(new MemoryRegion(100, 10), new MemoryRegion(2000, 10)));
        assertThat(parts.get(2)).containsExactly(
                new RegionPair(new MemoryRegion(110, 10), new MemoryRegion(2010, 10)));
        assertThat(parts.get(3)).containsExactly(
                new RegionPair(new MemoryRegion(120, 5), new MemoryRegion(2020, 5)),
                new RegionPair(new MemoryRegion(200, 5), new MemoryRegion(3000, 5)));
        assertThat(HostCopyExecutor.partition(pairs, 1)).containsExactly(pairs);
        assertThat(HostCopyExecutor.partition(List.of(), 3)).isEmpty();
    }

    @Test
    void hostToDiskToHostRoundTrips() throws Exception {
        DiskStorageProvider disk = new DiskStorageProvider(dir);
        Random r = new Random(99);
        try (HostStorage src = (HostStorage) memory.allocate(StorageKind.SYSTEM, 1 << 20);
             Storage file = disk.allocate(StorageKind.disk(0), 1 << 20);
             HostStorage back = (HostStorage) memory.allocate(StorageKind.SYSTEM, 1 << 20)) {
            fill(src, 5);
            fill(back, 6);
            byte[] before = back.segment().toArray(ValueLayout.JAVA_BYTE);
            List<RegionPair> toDisk = new ArrayList<>();
            List<RegionPair> fromDisk = new ArrayList<>();
            for (int i = 0; i < 64; i++) {
                int size = 1 + r.nextInt(8000);
                long at = i * 16_000L + r.nextInt(100);
                toDisk.add(new RegionPair(new MemoryRegion(src.region().address() + at, size), new MemoryRegion(at, size)));
                fromDisk.add(new RegionPair(new MemoryRegion(at, size), new MemoryRegion(back.region().address() + at, size)));
            }
            executor.execute(new TransferBatch(src, file, toDisk)).get(30, TimeUnit.SECONDS);
            executor.execute(new TransferBatch(file, back, fromDisk)).get(30, TimeUnit.SECONDS);
            List<RegionPair> endToEnd = new ArrayList<>();
            for (RegionPair p : toDisk) {
                long at = p.destination().address();
                endToEnd.add(new RegionPair(p.source(), new MemoryRegion(back.region().address() + at, p.source().size())));
            }
            assertCopiedExactly(src, back, before, endToEnd);
        }
    }

    @Test
    void aFailedCopyFailsTheFutureWithItsCause() {
        HostStorage src = (HostStorage) memory.allocate(StorageKind.SYSTEM, 4096);
        HostStorage dst = (HostStorage) memory.allocate(StorageKind.SYSTEM, 4096);
        TransferBatch batch = new TransferBatch(src, dst, List.of(new RegionPair(
                new MemoryRegion(src.region().address(), 4096), new MemoryRegion(dst.region().address(), 4096))));
        dst.close();
        assertThatThrownBy(() -> executor.execute(batch).get(30, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class)
                .hasCauseInstanceOf(IllegalStateException.class)
                .cause().hasMessageContaining("is closed");
        src.close();
    }

    @Test
    void unsupportedKindsAreRejectedNamingWhoWouldCopyThem() {
        Storage device = new Storage() { // test double: a device storage this backend cannot reach
            public StorageKind kind() {
                return StorageKind.device(0);
            }

            public MemoryRegion region() {
                return new MemoryRegion(0x7000_0000L, 4096);
            }

            public boolean isClosed() {
                return false;
            }

            public Lifetime.Lease acquire() {
                throw new UnsupportedOperationException("test double has no memory");
            }

            public Lifetime.Hook onClose(String holder, Runnable withdraw) {
                throw new UnsupportedOperationException("test double has no memory");
            }

            public void close() {
            }
        };
        try (Storage host = memory.allocate(StorageKind.SYSTEM, 4096)) {
            assertThatThrownBy(() -> executor.execute(new TransferBatch(host, device, List.of())))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not System -> Device(0)")
                    .hasMessageContaining("kvbm-backend-cuda");
        }
        assertThat(executor.supports(StorageKind.PINNED, StorageKind.SYSTEM)).isTrue();
        assertThat(executor.supports(StorageKind.disk(4), StorageKind.PINNED)).isTrue();
        assertThat(executor.supports(StorageKind.disk(4), StorageKind.disk(5))).isFalse();
    }

    @Test
    void executeAfterCloseThrows() {
        TransferExecutor closed = new HostCopyExecutorProvider().create();
        closed.close();
        try (Storage a = memory.allocate(StorageKind.SYSTEM, 64); Storage b = memory.allocate(StorageKind.SYSTEM, 64)) {
            assertThatThrownBy(() -> closed.execute(new TransferBatch(a, b, List.of())))
                    .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
        }
    }
}
