package dev.kvbm.tck;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;
import dev.kvbm.api.spi.TransferExecutorProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Rules 2.x of docs/tck-spec.md for a {@link TransferExecutorProvider} copying {@link #sourceKind()} to
 * {@link #destinationKind()}. Storage for both ends comes from {@link #sourceProvider()} and
 * {@link #destinationProvider()}; the kit fills them with seeded random bytes and checks every byte afterwards,
 * including guard bytes around each destination range.
 */
public abstract class TransferExecutorVerification {

    /** Seconds a copy may take before the kit calls it hung. */
    protected static final long TIMEOUT_SECONDS = 60;

    private final List<AutoCloseable> resources = new ArrayList<>();

    protected abstract TransferExecutorProvider executorProvider();

    protected abstract StorageProvider sourceProvider();

    protected abstract StorageKind sourceKind();

    protected abstract StorageProvider destinationProvider();

    protected abstract StorageKind destinationKind();

    /** Writes bytes into a storage; override for storage the CPU cannot reach. */
    protected void write(Storage storage, long offset, byte[] bytes) {
        Bytes.write(storage, offset, bytes);
    }

    /** Reads bytes from a storage; override for storage the CPU cannot reach. */
    protected byte[] read(Storage storage, long offset, int length) {
        return Bytes.read(storage, offset, length);
    }

    /**
     * Closes what the rule made, each close bounded by {@link #TIMEOUT_SECONDS}: an executor whose close hangs
     * (rule 2.11's defect) fails the rule instead of hanging the kit.
     */
    @AfterEach
    void closeResources() throws Exception {
        List<String> hung = new ArrayList<>();
        for (AutoCloseable r : resources.reversed()) {
            CompletableFuture<Void> closed = new CompletableFuture<>();
            Thread closer = Thread.ofPlatform().daemon().name("kvbm-tck-close").start(() -> {
                try {
                    r.close();
                    closed.complete(null);
                } catch (Throwable t) {
                    closed.completeExceptionally(t);
                }
            });
            try {
                closed.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                hung.add(r + " (thread " + closer.getName() + " left waiting)");
            } catch (ExecutionException e) {
                throw e.getCause() instanceof Exception cause ? cause : e;
            }
        }
        resources.clear();
        if (!hung.isEmpty()) {
            fail("close() did not return within " + TIMEOUT_SECONDS + " s: " + hung);
        }
    }

    private TransferExecutor executor() {
        TransferExecutorProvider p = executorProvider();
        assumeTrue(p.isAvailable(), () -> "executor provider " + p.name() + " is unavailable: "
                + p.unavailabilityCause().map(Throwable::getMessage).orElse("?"));
        assumeTrue(p.supports(sourceKind(), destinationKind()),
                () -> p.name() + " does not copy " + sourceKind() + " -> " + destinationKind());
        for (StorageProvider s : List.of(sourceProvider(), destinationProvider())) {
            assumeTrue(s.isAvailable(), () -> "storage provider " + s.name() + " is unavailable");
        }
        return track(p.create());
    }

    private Storage storage(StorageProvider provider, StorageKind kind, long size) {
        return track(provider.allocate(kind, size, 64));
    }

    private <T extends AutoCloseable> T track(T resource) {
        resources.add(resource);
        return resource;
    }

    @Test
    public void required_2_1_copiesExactlyTheBytesAskedAndNothingElse() throws Exception {
        copyAndVerify(21, 1 << 20, 40, 1, 9000);
    }

    @Test
    public void required_2_2_manySmallPairs() throws Exception {
        copyAndVerify(22, 1 << 20, 4000, 1, 64);
    }

    @Test
    public void required_2_3_fewLargePairs() throws Exception {
        copyAndVerify(23, 24 << 20, 3, 4 << 20, 7 << 20);
    }

    /**
     * Copies {@code pairs} random ranges of {@code minSize..maxSize} bytes, at unaligned offsets, between two
     * randomly filled storages of {@code size} bytes; then checks every destination byte: copied ranges hold the
     * source bytes, everything else its original guard bytes.
     */
    private void copyAndVerify(long seed, int size, int pairs, int minSize, int maxSize) throws Exception {
        TransferExecutor executor = executor();
        SplittableRandom random = new SplittableRandom(seed);
        Storage src = storage(sourceProvider(), sourceKind(), size);
        Storage dst = storage(destinationProvider(), destinationKind(), size);
        byte[] srcBytes = Bytes.random(random, size);
        byte[] dstBytes = Bytes.random(random, size);
        write(src, 0, srcBytes);
        write(dst, 0, dstBytes);
        List<RegionPair> list = disjointPairs(random, src, dst, size, pairs, minSize, maxSize);
        wait(executor.execute(new TransferBatch(src, dst, list)), "copy of " + list.size() + " pairs");
        byte[] expected = dstBytes.clone();
        for (RegionPair p : list) {
            int from = (int) (p.source().address() - src.region().address());
            int to = (int) (p.destination().address() - dst.region().address());
            System.arraycopy(srcBytes, from, expected, to, (int) p.source().size());
        }
        byte[] actual = read(dst, 0, size);
        int at = Arrays.mismatch(expected, actual);
        if (at >= 0) {
            String where = "a guard byte outside every destination range";
            for (int i = 0; i < list.size(); i++) {
                MemoryRegion d = list.get(i).destination();
                long offset = d.address() - dst.region().address();
                if (at >= offset && at < offset + d.size()) {
                    where = String.format(Locale.ROOT, "byte %d of pair %d (%d bytes)", at - offset, i, d.size());
                }
            }
            fail(String.format(Locale.ROOT, "destination byte %d (%s) is 0x%02x, expected 0x%02x", at, where,
                    actual[at], expected[at]));
        }
    }

    /** Pairs whose destinations are disjoint and in random order; sources may overlap each other. */
    private static List<RegionPair> disjointPairs(SplittableRandom random, Storage src, Storage dst, int size, int count,
                                                  int minSize, int maxSize) {
        int slot = size / count;
        List<RegionPair> pairs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int length = Math.min(slot - 1, minSize + random.nextInt(maxSize - minSize + 1));
            int dstOffset = i * slot + random.nextInt(slot - length);
            int srcOffset = random.nextInt(size - length);
            pairs.add(new RegionPair(new MemoryRegion(src.region().address() + srcOffset, length),
                    new MemoryRegion(dst.region().address() + dstOffset, length)));
        }
        java.util.Collections.shuffle(pairs, new java.util.Random(random.nextLong()));
        return pairs;
    }

    @Test
    public void required_2_4_overlappingDestinationsAreRejected() {
        executor();
        Storage src = storage(sourceProvider(), sourceKind(), 4096);
        Storage dst = storage(destinationProvider(), destinationKind(), 4096);
        long s = src.region().address();
        long d = dst.region().address();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new TransferBatch(src, dst,
                List.of(new RegionPair(new MemoryRegion(s, 100), new MemoryRegion(d + 10, 100)),
                        new RegionPair(new MemoryRegion(s + 200, 100), new MemoryRegion(d + 109, 100)))));
        assertTrue(e.getMessage().contains("overlap"), "the message must say the destinations overlap: " + e.getMessage());
    }

    @Test
    public void required_2_5_aFailedCopyFailsTheFutureWithItsCause() throws Exception {
        TransferExecutor executor = executor();
        Storage src = storage(sourceProvider(), sourceKind(), 64 * 1024);
        Storage dst = storage(destinationProvider(), destinationKind(), 64 * 1024);
        TransferBatch batch = new TransferBatch(src, dst, List.of(new RegionPair(src.region(), dst.region())));
        src.close();
        CompletableFuture<Void> future;
        try {
            future = executor.execute(batch);
        } catch (IllegalStateException refusedAtOnce) {
            return; // refusing a closed storage synchronously is also a failure with its cause
        }
        try {
            future.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            fail("copying from a closed source storage completed normally; it must fail");
        } catch (ExecutionException e) {
            assertTrue(e.getCause() != null, "the future must fail with the cause of the failed copy");
        } catch (TimeoutException e) {
            fail("copying from a closed storage neither completed nor failed within " + TIMEOUT_SECONDS + " s");
        }
    }

    @Test
    public void required_2_6_executorAndProviderAgreeOnKinds() {
        TransferExecutor executor = executor();
        StorageKind[] kinds = {StorageKind.SYSTEM, StorageKind.PINNED, StorageKind.device(0), StorageKind.disk(0)};
        for (StorageKind s : kinds) {
            for (StorageKind d : kinds) {
                assertEquals(executorProvider().supports(s, d), executor.supports(s, d), String.format(Locale.ROOT,
                        "the provider and its executor disagree on whether %s -> %s is supported", s, d));
            }
        }
    }

    @Test
    public void required_2_7_closeIsIdempotentAndExecuteAfterCloseThrows() {
        TransferExecutor executor = executor();
        Storage src = storage(sourceProvider(), sourceKind(), 4096);
        Storage dst = storage(destinationProvider(), destinationKind(), 4096);
        executor.close();
        executor.close();
        assertThrows(IllegalStateException.class,
                () -> executor.execute(new TransferBatch(src, dst, List.of(new RegionPair(src.region(), dst.region())))),
                "execute after close must throw IllegalStateException");
    }

    @Test
    public void required_2_8_anEmptyBatchCompletes() throws Exception {
        TransferExecutor executor = executor();
        Storage src = storage(sourceProvider(), sourceKind(), 4096);
        Storage dst = storage(destinationProvider(), destinationKind(), 4096);
        wait(executor.execute(new TransferBatch(src, dst, List.of())), "an empty batch");
    }

    @Test
    public void required_2_9_closeCompletesOrFailsEveryAcceptedBatch() throws Exception {
        TransferExecutor executor = executor();
        int batches = 64;
        int piece = 4096;
        int pairsPerBatch = 4;
        int size = batches * pairsPerBatch * piece;
        Storage src = storage(sourceProvider(), sourceKind(), size);
        Storage dst = storage(destinationProvider(), destinationKind(), size);
        List<CompletableFuture<Void>> accepted = new ArrayList<>();
        for (int b = 0; b < batches; b++) {
            List<RegionPair> pairs = new ArrayList<>();
            for (int i = 0; i < pairsPerBatch; i++) {
                long offset = ((long) b * pairsPerBatch + i) * piece;
                pairs.add(new RegionPair(src.region().slice(offset, piece), dst.region().slice(offset, piece)));
            }
            accepted.add(executor.execute(new TransferBatch(src, dst, pairs)));
        }
        executor.close();
        List<Integer> pending = new ArrayList<>();
        for (int b = 0; b < batches; b++) {
            if (!accepted.get(b).isDone()) {
                pending.add(b);
            }
        }
        if (!pending.isEmpty()) {
            fail(String.format(Locale.ROOT, "close() returned while %d of the %d batches it had accepted were neither"
                            + " completed nor failed (batches %s): close must finish or fail every accepted batch,"
                            + " or their callers wait forever", pending.size(), batches,
                    pending.size() > 8 ? pending.subList(0, 8) + "..." : pending));
        }
        // The bytes of the batches that completed are rule 2.1's business; this rule is about none being left behind.
    }

    @Test
    public void required_2_10_aCopyLeasesBothStoragesForItsWholeLength() throws Exception {
        TransferExecutor executor = executor();
        int size = 8 << 20;
        Storage src = storage(sourceProvider(), sourceKind(), size);
        Storage dst = storage(destinationProvider(), destinationKind(), size);
        Watched watchedSrc = Watched.of(src);
        Watched watchedDst = Watched.of(dst);
        assumeTrue(watchedSrc != null || watchedDst != null, () -> "neither " + sourceKind() + " nor "
                + destinationKind() + " storage is host or file storage, which the kit can watch for leases");
        Storage from = watchedSrc != null ? watchedSrc : src;
        Storage to = watchedDst != null ? watchedDst : dst;
        write(src, 0, Bytes.random(new SplittableRandom(210), size));
        wait(executor.execute(new TransferBatch(from, to, pieces(from, to, size, 64))), "a copy of 8 MiB");
        for (Watched w : Arrays.asList(watchedSrc, watchedDst)) {
            if (w == null) {
                continue;
            }
            String end = w == watchedSrc ? "source" : "destination";
            assertTrue(w.taken.get() > 0, () -> String.format(Locale.ROOT, "the executor copied %s %s without leasing"
                    + " it (Storage.acquire()): a close during the copy would free the memory under it", end, w));
            assertEquals(0, w.held.get(), () -> String.format(Locale.ROOT, "the executor still holds %d lease(s) on"
                    + " its %s after the copy's future completed; leases are released before the future completes,"
                    + " or closing the storage waits forever", w.held.get(), end));
        }
        // Close the source while copies of it run: close waits for the copy or the copy fails; it never returns
        // while the copy still reads (checked through the watch's lifetime: a copy that leased finished first).
        for (int round = 0; round < 8; round++) {
            Storage inner = storage(sourceProvider(), sourceKind(), size);
            Watched watched = Watched.of(inner);
            Storage source = watched != null ? watched : inner;
            CompletableFuture<Void> copy = executor.execute(new TransferBatch(source, to, pieces(source, to, size, 256)));
            CompletableFuture<Void> closed = CompletableFuture.runAsync(source::close);
            try {
                closed.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                fail("closing a storage during a copy from it did not return within " + TIMEOUT_SECONDS + " s: the"
                        + " executor holds a lease it never releases");
            }
            boolean completed;
            try {
                copy.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                completed = true;
            } catch (ExecutionException e) {
                completed = false; // failing the copy is allowed
            } catch (TimeoutException e) {
                fail("a copy whose source was closed during it neither completed nor failed within " + TIMEOUT_SECONDS
                        + " s");
                return;
            }
            if (completed && watched != null && watched.taken.get() == 0) {
                fail(String.format(Locale.ROOT, "round %d: a copy from %s completed normally although the storage was"
                        + " closed during it and the executor never leased it: it read memory that close had freed",
                        round, watched));
            }
        }
    }

    @Test
    public void required_2_11_closingTheExecutorFromACompletionCallbackReturns() throws Exception {
        TransferExecutor firstExecutor = executor(); // the availability assumptions come before any allocation
        int size = 8 << 20;
        Storage src = storage(sourceProvider(), sourceKind(), size);
        Storage dst = storage(destinationProvider(), destinationKind(), size);
        Thread caller = Thread.currentThread();
        // A callback runs on the executor's own thread only when the batch is still in flight as it is attached; a
        // few tries with a fresh executor make that near certain for any executor that completes asynchronously.
        for (int round = 0; round < 5; round++) {
            TransferExecutor executor = round == 0 ? firstExecutor : executor();
            CompletableFuture<Void> first = executor.execute(new TransferBatch(src, dst,
                    pieces(src, dst, size / 2, 64)));
            executor.execute(new TransferBatch(src, dst,
                    pieces(src.region().slice(size / 2, size / 2), dst.region().slice(size / 2, size / 2), size / 2,
                            64)));
            CountDownLatch returned = new CountDownLatch(1);
            java.util.concurrent.atomic.AtomicReference<Throwable> thrown = new java.util.concurrent.atomic.AtomicReference<>();
            java.util.concurrent.atomic.AtomicBoolean onItsThread = new java.util.concurrent.atomic.AtomicBoolean();
            first.whenComplete((ignored, failure) -> {
                onItsThread.set(Thread.currentThread() != caller);
                try {
                    executor.close();
                } catch (Throwable t) {
                    thrown.set(t);
                } finally {
                    returned.countDown();
                }
            });
            if (!returned.await(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                fail("close() called from a batch's completion callback did not return within " + TIMEOUT_SECONDS
                        + " s: a callback runs on the executor's own thread, so a close that waits for that thread"
                        + " to finish waits for itself; close from one of its own threads must not wait for it");
            }
            if (thrown.get() != null) {
                fail("close() called from a batch's completion callback threw " + thrown.get(), thrown.get());
            }
            // What becomes of the second batch, queued behind the first, is rule 2.9's business.
            assertThrows(IllegalStateException.class, () -> executor.execute(new TransferBatch(src, dst, List.of())),
                    "execute after a close from a completion callback must throw IllegalStateException");
            if (onItsThread.get()) {
                return;
            }
        }
        assumeTrue(false, "the executor completed every batch before execute() returned, so no completion callback"
                + " ran on its own thread; there was nothing to close from there");
    }

    /** {@code count} pairs covering both storages' first {@code size} bytes in order. */
    private static List<RegionPair> pieces(Storage src, Storage dst, int size, int count) {
        return pieces(src.region(), dst.region(), size, count);
    }

    /** {@code count} pairs covering the first {@code size} bytes of two regions, in order. */
    private static List<RegionPair> pieces(MemoryRegion from, MemoryRegion to, int size, int count) {
        int piece = size / count;
        List<RegionPair> pairs = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            pairs.add(new RegionPair(from.slice((long) i * piece, piece), to.slice((long) i * piece, piece)));
        }
        return pairs;
    }

    private static void wait(CompletableFuture<Void> future, String what) throws Exception {
        try {
            future.get(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            fail(what + " did not complete within " + TIMEOUT_SECONDS + " s");
        }
    }
}
