package dev.kvbm.backend.cuda;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;
import dev.kvbm.tck.Bytes;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The executor's paths, staging, completion and failures, against the stand-in (a TEST DOUBLE of the driver whose
 * streams run asynchronously on their own threads). Every copy is checked byte by byte, guard bytes included.
 */
class CudaCopyExecutorTest {
    private static final StorageKind DEVICE = StorageKind.device(0);
    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void tearDown() throws Exception {
        for (AutoCloseable r : resources.reversed()) {
            r.close();
        }
        CudaStandIn s = CudaStandIn.get();
        s.clearFailure();
        s.opDelayMicros(50);
        assertThat(s.violations()).as("memory freed while a queued copy still touched it").isZero();
    }

    private <T extends AutoCloseable> T track(T resource) {
        resources.add(resource);
        return resource;
    }

    private Storage storage(CudaStandIn s, StorageKind kind, long size) {
        return track(CudaKits.providers(s.probe).of(kind).allocate(kind, size, 256));
    }

    private TransferExecutor executor(CudaStandIn s, CudaCopyExecutor.Path path) {
        return track(s.executors(path).create());
    }

    /** Copies {@code count} random pairs of 1..maxSize bytes and checks the destination, guard bytes included. */
    private void copyAndCheck(CudaStandIn s, TransferExecutor executor, StorageKind from, StorageKind to, int count,
                              int maxSize, long seed) throws Exception {
        int size = count * (maxSize + 64);
        SplittableRandom random = new SplittableRandom(seed);
        Storage src = storage(s, from, size);
        Storage dst = storage(s, to, size);
        byte[] srcBytes = Bytes.random(random, size);
        byte[] dstBytes = Bytes.random(random, size);
        CudaKits.write(s.probe, src, 0, srcBytes);
        CudaKits.write(s.probe, dst, 0, dstBytes);
        List<RegionPair> pairs = new ArrayList<>();
        int slot = size / count;
        for (int i = 0; i < count; i++) {
            int length = 1 + random.nextInt(maxSize);
            int dstOffset = i * slot + random.nextInt(slot - length);
            int srcOffset = random.nextInt(size - length);
            pairs.add(new RegionPair(new MemoryRegion(src.region().address() + srcOffset, length),
                    new MemoryRegion(dst.region().address() + dstOffset, length)));
            System.arraycopy(srcBytes, srcOffset, dstBytes, dstOffset, length);
        }
        executor.execute(new TransferBatch(src, dst, pairs)).get(60, TimeUnit.SECONDS);
        byte[] actual = CudaKits.read(s.probe, dst, 0, size);
        assertThat(Arrays.mismatch(dstBytes, actual)).as("first differing destination byte").isEqualTo(-1);
    }

    @ParameterizedTest
    @EnumSource(CudaCopyExecutor.Path.class)
    void everyPathCopiesEveryDirectionExactly(CudaCopyExecutor.Path path) throws Exception {
        CudaStandIn s = CudaStandIn.get();
        TransferExecutor executor = executor(s, path);
        long launches = s.kernelLaunches();
        long batches = s.batchCalls();
        long seed = 1;
        for (StorageKind[] pair : new StorageKind[][] {{StorageKind.PINNED, DEVICE}, {DEVICE, StorageKind.PINNED},
                {DEVICE, DEVICE}}) {
            copyAndCheck(s, executor, pair[0], pair[1], 3000, 200, seed++);
        }
        long[] counts = ((CudaCopyExecutor) executor).pathCounts();
        switch (path) {
            case KERNEL -> {
                assertThat(s.kernelLaunches() - launches).isEqualTo(3);
                assertThat(counts[0]).isEqualTo(3);
            }
            case BATCH -> {
                assertThat(s.batchCalls() - batches).isEqualTo(3);
                assertThat(counts[1]).isEqualTo(3);
            }
            case EACH -> assertThat(counts[2]).isGreaterThan(3 * 2000); // coalescing merges only a few neighbours
        }
    }

    @Test
    void autoPicksTheKernelForManySmallRegionsAndTheBatchCallForFewLargeOnes() throws Exception {
        CudaStandIn s = CudaStandIn.get();
        CudaCopyExecutor executor = (CudaCopyExecutor) executor(s, null);
        copyAndCheck(s, executor, StorageKind.PINNED, DEVICE, 500, 100, 7);
        assertThat(executor.pathCounts()[0]).isEqualTo(1);
        copyAndCheck(s, executor, DEVICE, StorageKind.PINNED, 8, 1 << 20, 8);
        assertThat(executor.pathCounts()[1]).isEqualTo(1);
    }

    @Test
    void theCuda12BatchSignatureAndADriverWithoutBatchCopyBothWork() throws Exception {
        CudaStandIn cuda12 = CudaStandIn.get(CudaStandIn.Variant.CUDA12);
        assertThat(cuda12.probe.driver().hasBatchCopy()).isTrue();
        copyAndCheck(cuda12, executor(cuda12, CudaCopyExecutor.Path.BATCH), StorageKind.PINNED, DEVICE, 300, 300, 3);
        assertThat(cuda12.batchCalls()).isPositive();

        CudaStandIn old = CudaStandIn.get(CudaStandIn.Variant.NO_BATCH);
        assertThat(old.probe.driver().hasBatchCopy()).isFalse();
        CudaCopyExecutor auto = (CudaCopyExecutor) executor(old, null);
        copyAndCheck(old, auto, DEVICE, DEVICE, 8, 1 << 16, 4); // few large regions: one copy each
        assertThat(auto.pathCounts()[2]).isEqualTo(8);
        TransferExecutor forced = executor(old, CudaCopyExecutor.Path.BATCH);
        assertThatThrownBy(() -> copyAndCheck(old, forced, DEVICE, DEVICE, 4, 64, 5))
                .hasRootCauseInstanceOf(IllegalStateException.class)
                .rootCause().hasMessageContaining("has no cuMemcpyBatchAsync");
    }

    @Test
    void systemMemoryIsStagedThroughPinnedBuffersNeverCopiedByDmaDirectly() throws Exception {
        CudaStandIn s = CudaStandIn.get();
        TransferExecutor executor = executor(s, null);
        long pageable = s.pageableCopies();
        // 1 MiB bounce buffers (the stand-in's setting) and ~5 MiB per batch: several chunks through both buffers.
        copyAndCheck(s, executor, StorageKind.SYSTEM, DEVICE, 40, 256 * 1024, 11);
        copyAndCheck(s, executor, DEVICE, StorageKind.SYSTEM, 40, 256 * 1024, 12);
        copyAndCheck(s, executor, StorageKind.SYSTEM, DEVICE, 2000, 100, 13);
        assertThat(s.pageableCopies() - pageable).as("DMA copies from or to pageable memory").isZero();
    }

    @Test
    void anErrorReportedAtCompletionFailsTheFutureWithTheDriversError() throws Exception {
        CudaStandIn s = CudaStandIn.get();
        TransferExecutor executor = executor(s, null);
        Storage src = storage(s, StorageKind.PINNED, 1 << 20);
        Storage dst = storage(s, DEVICE, 1 << 20);
        s.failNext("cuEventQuery", 700, 0);
        CompletableFuture<Void> f = executor.execute(new TransferBatch(src, dst,
                List.of(new RegionPair(src.region(), dst.region()))));
        assertThatThrownBy(() -> f.get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
                .cause().isInstanceOf(CudaException.class)
                .hasMessageContaining("cuEventQuery").hasMessageContaining("CUDA_ERROR_ILLEGAL_ADDRESS");
        src.close(); // the leases were given back: close does not wait
        assertThat(src.isClosed()).isTrue();
    }

    @Test
    void aCopyRefusedAtSubmissionIsNamedByItsPairAndTheOthersFinishBeforeTheLeasesGo() throws Exception {
        CudaStandIn s = CudaStandIn.get();
        s.opDelayMicros(500);
        TransferExecutor executor = executor(s, CudaCopyExecutor.Path.EACH);
        Storage src = storage(s, StorageKind.PINNED, 1 << 16);
        Storage dst = storage(s, DEVICE, 1 << 16);
        List<RegionPair> pairs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            pairs.add(new RegionPair(src.region().slice(i * 8192L, 4096), dst.region().slice(i * 8192L + 100, 4096)));
        }
        s.failNext("cuMemcpyAsync", 1, 3);
        CompletableFuture<Void> f = executor.execute(new TransferBatch(src, dst, pairs));
        assertThatThrownBy(() -> f.get(30, TimeUnit.SECONDS)).cause().isInstanceOf(CudaException.class)
                .hasMessageContaining("cuMemcpyAsync(pair 3 of 8").hasMessageContaining("CUDA_ERROR_INVALID_VALUE");
        src.close();
        dst.close(); // the stand-in counts a violation if the three enqueued copies were still queued
    }

    @Test
    void closingAStorageMidCopyWaitsForTheDeviceToFinishWithIt() throws Exception {
        CudaStandIn s = CudaStandIn.get();
        s.opDelayMicros(20_000);
        TransferExecutor executor = executor(s, CudaCopyExecutor.Path.EACH);
        Storage src = storage(s, StorageKind.PINNED, 1 << 20);
        Storage dst = storage(s, DEVICE, 1 << 20);
        List<RegionPair> pairs = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            pairs.add(new RegionPair(src.region().slice(i * 65536L, 65536), dst.region().slice(i * 65536L, 65536)));
        }
        CompletableFuture<Void> f = executor.execute(new TransferBatch(src, dst, pairs));
        assertThat(f).isNotDone(); // 10 queued copies of 20 ms each
        dst.close(); // waits for the copies: the stand-in counts a violation when memory is freed under a queued op
        assertThat(s.violations()).isZero();
        f.get(30, TimeUnit.SECONDS);
    }

    @Test
    void aKernelThatDoesNotLoadLeavesTheOtherPathsAndForcingItSaysWhy() throws Exception {
        CudaStandIn s = CudaStandIn.get();
        s.failNext("cuModuleLoadData", 200, 0);
        CudaCopyExecutor auto = (CudaCopyExecutor) executor(s, null);
        copyAndCheck(s, auto, StorageKind.PINNED, DEVICE, 500, 100, 21);
        assertThat(auto.pathCounts()[0]).isZero();
        assertThat(auto.pathCounts()[1]).isEqualTo(1);
        s.failNext("cuModuleLoadData", 200, 0);
        TransferExecutor forced = executor(s, CudaCopyExecutor.Path.KERNEL);
        assertThatThrownBy(() -> copyAndCheck(s, forced, StorageKind.PINNED, DEVICE, 500, 100, 22))
                .rootCause().hasMessageContaining("copy kernel could not be loaded")
                .hasMessageContaining("CUDA_ERROR_INVALID_IMAGE");
    }

    @Test
    void closingTheExecutorFreesItsStreamsAndBuffers() throws Exception {
        CudaStandIn s = CudaStandIn.get();
        long live = s.liveAllocations();
        TransferExecutor executor = s.executors(null).create();
        Storage src = CudaKits.providers(s.probe).of(StorageKind.SYSTEM).allocate(StorageKind.SYSTEM, 1 << 20);
        Storage dst = CudaKits.providers(s.probe).of(DEVICE).allocate(DEVICE, 1 << 20);
        try {
            copyAndCheck(s, executor, StorageKind.SYSTEM, DEVICE, 300, 100, 31);
            copyAndCheck(s, executor, StorageKind.PINNED, DEVICE, 300, 100, 32);
            executor.execute(new TransferBatch(src, dst, List.of(new RegionPair(src.region(), dst.region()))));
        } finally {
            executor.close(); // waits for the last batch, then frees
            executor.close();
            src.close();
            dst.close();
        }
        for (AutoCloseable r : resources.reversed()) {
            r.close();
        }
        resources.clear();
        assertThat(s.liveAllocations()).isEqualTo(live);
        assertThatThrownBy(() -> executor.execute(new TransferBatch(src, src, List.of())))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
    }

    @Test
    void adjacentPairsAreCoalescedIntoOneCopy() throws Exception {
        CudaStandIn s = CudaStandIn.get();
        CudaCopyExecutor executor = (CudaCopyExecutor) executor(s, CudaCopyExecutor.Path.EACH);
        Storage src = storage(s, StorageKind.PINNED, 1 << 16);
        Storage dst = storage(s, DEVICE, 1 << 16);
        byte[] bytes = Bytes.random(new SplittableRandom(41), 1 << 16);
        CudaKits.write(s.probe, src, 0, bytes);
        List<RegionPair> pairs = new ArrayList<>();
        for (int i = 15; i >= 0; i--) { // in reverse order: coalescing sorts them first
            pairs.add(new RegionPair(src.region().slice(i * 4096L, 4096), dst.region().slice(i * 4096L, 4096)));
        }
        executor.execute(new TransferBatch(src, dst, pairs)).get(30, TimeUnit.SECONDS);
        assertThat(executor.pathCounts()[2]).as("copies submitted for 16 adjacent pairs").isEqualTo(1);
        assertThat(CudaKits.read(s.probe, dst, 0, 1 << 16)).containsExactly(bytes);
    }

    @Test
    void completionEventsAreReusedNotCreatedPerBatch() throws Exception {
        CudaStandIn s = CudaStandIn.get();
        TransferExecutor executor = executor(s, null);
        Storage src = storage(s, StorageKind.PINNED, 1 << 16);
        Storage dst = storage(s, DEVICE, 1 << 16);
        TransferBatch batch = new TransferBatch(src, dst, List.of(new RegionPair(src.region(), dst.region())));
        executor.execute(batch).get(30, TimeUnit.SECONDS);
        long created = s.eventsCreated();
        for (int i = 0; i < 100; i++) {
            executor.execute(batch).get(30, TimeUnit.SECONDS);
        }
        assertThat(s.eventsCreated() - created).as("events created for 100 sequential batches").isZero();
    }

    @Test
    void deviceMemoryFromAnotherBackendAndUnsupportedKindsAreRefusedByName() {
        CudaStandIn s = CudaStandIn.get();
        TransferExecutor executor = executor(s, null);
        Storage pinned = storage(s, StorageKind.PINNED, 4096);
        Storage foreign = new TestDeviceStorage(pinned.region());
        assertThatThrownBy(() -> executor.execute(new TransferBatch(pinned, foreign,
                List.of(new RegionPair(pinned.region(), foreign.region())))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("allocated by cuda-device only");
        Storage other = storage(s, StorageKind.PINNED, 4096);
        assertThatThrownBy(() -> executor.execute(new TransferBatch(pinned, other,
                List.of(new RegionPair(pinned.region(), other.region())))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not Pinned -> Pinned");
    }

    @Test
    void aCompletionCallbackThatClosesTheExecutorReturnsAndTheExecutorStillFreesEverything() throws Exception {
        CudaStandIn s = CudaStandIn.get();
        long live = s.liveAllocations();
        Storage src = CudaKits.providers(s.probe).of(StorageKind.PINNED).allocate(StorageKind.PINNED, 1 << 16);
        Storage dst = CudaKits.providers(s.probe).of(DEVICE).allocate(DEVICE, 1 << 16);
        TransferExecutor executor = s.executors(CudaCopyExecutor.Path.KERNEL).create();
        List<RegionPair> pairs = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            pairs.add(new RegionPair(src.region().slice(i * 512L, 100), dst.region().slice(i * 512L + 7, 100)));
        }
        CompletableFuture<Void> closed = executor.execute(new TransferBatch(src, dst, pairs))
                .thenRun(executor::close); // runs on the completion thread: must not wait for itself
        closed.get(30, TimeUnit.SECONDS);
        assertThatThrownBy(() -> executor.execute(new TransferBatch(src, dst, List.of())))
                .isInstanceOf(IllegalStateException.class);
        executor.close(); // from here it waits until the completion thread has freed streams and buffers
        src.close();
        dst.close();
        assertThat(s.liveAllocations()).isEqualTo(live);
    }

    /** TEST DOUBLE: storage that says it is device memory but was not allocated by this backend. */
    private record TestDeviceStorage(MemoryRegion region) implements Storage {
        @Override
        public StorageKind kind() {
            return DEVICE;
        }

        @Override
        public boolean isClosed() {
            return false;
        }

        @Override
        public dev.kvbm.api.spi.Lifetime.Lease acquire() {
            throw new UnsupportedOperationException("never reached: the executor refuses this storage first");
        }

        @Override
        public dev.kvbm.api.spi.Lifetime.Hook onClose(String holder, Runnable withdraw) {
            throw new UnsupportedOperationException("not registered anywhere in this test");
        }

        @Override
        public void close() {
        }
    }
}
