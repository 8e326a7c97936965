package dev.kvbm.manager;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.PriorityBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Copies newly registered G1 blocks to G2 in the background, as Dynamo's offload manager does: a priority queue
 * (higher priority first, then first registered), batches of up to {@code batchSize} blocks, at most
 * {@code maxInFlight} batches copying at once. The queue holds hashes, not blocks: a block evicted from G1 before
 * its turn is skipped (its eviction wrote it down already), so queued offloads never pin G1 memory. A block G2 has
 * already is skipped too. A batch is written down prefix by prefix, from each prefix's head: what G2 has no room
 * for without evicting the prefix itself is dropped from the tail ({@link KvBlockManager#writeDown}).
 */
final class Offloader implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Offloader.class.getName());

    private record Request(int priority, long order, long sequenceHash) implements Comparable<Request> {
        @Override
        public int compareTo(Request o) {
            int c = Integer.compare(o.priority, priority);
            return c != 0 ? c : Long.compare(order, o.order);
        }
    }

    private final KvBlockManager manager;
    private final KvBlockManager.TierState from;
    private final KvBlockManager.TierState to;
    private final int maxInFlight;
    private final int batchSize;
    private final PriorityBlockingQueue<Request> queue = new PriorityBlockingQueue<>();
    private final Semaphore slots;
    private final AtomicLong order = new AtomicLong();
    private final Object idleLock = new Object();
    private long pending; // queued or copying; guarded by idleLock
    private final List<CompletableFuture<Void>> idleWaiters = new ArrayList<>(); // guarded by idleLock
    private final Thread worker;
    private volatile boolean closed;

    Offloader(KvBlockManager manager, KvBlockManager.TierState from, KvBlockManager.TierState to, int maxInFlight,
              int batchSize) {
        this.manager = manager;
        this.from = from;
        this.to = to;
        this.maxInFlight = maxInFlight;
        this.batchSize = batchSize;
        this.slots = new Semaphore(maxInFlight);
        this.worker = Thread.ofPlatform().daemon().name("kvbm-offload-" + from.tier() + "-" + to.tier())
                .start(this::run);
    }

    /** Queues registered blocks (private duplicates excluded: they are never matched, so never worth a copy). */
    void enqueue(List<ImmutableBlock> blocks, int priority) {
        if (closed) {
            return;
        }
        int n = 0;
        for (ImmutableBlock b : blocks) {
            if (!b.isDuplicate()) {
                n++;
            }
        }
        synchronized (idleLock) {
            pending += n;
        }
        for (ImmutableBlock b : blocks) {
            if (!b.isDuplicate()) {
                queue.add(new Request(priority, order.getAndIncrement(), b.sequenceHash()));
            }
        }
    }

    /** {@return completes once nothing is queued or copying} */
    CompletableFuture<Void> idle() {
        synchronized (idleLock) {
            if (pending == 0) {
                return CompletableFuture.completedFuture(null);
            }
            CompletableFuture<Void> f = new CompletableFuture<>();
            idleWaiters.add(f);
            return f;
        }
    }

    private void done(int n) {
        List<CompletableFuture<Void>> wake = List.of();
        synchronized (idleLock) {
            pending -= n;
            if (pending == 0 && !idleWaiters.isEmpty()) {
                wake = new ArrayList<>(idleWaiters);
                idleWaiters.clear();
            }
        }
        wake.forEach(f -> f.complete(null));
    }

    private void run() {
        List<Request> batch = new ArrayList<>(batchSize);
        while (!closed) {
            try {
                batch.add(queue.take());
                queue.drainTo(batch, batchSize - 1);
                slots.acquire();
            } catch (InterruptedException e) {
                if (closed) {
                    break;
                }
                continue;
            }
            try {
                submit(batch);
            } catch (RuntimeException e) {
                // A bug, not a failed copy (those are reported per block): keep offloading the next batches.
                LOG.log(System.Logger.Level.ERROR, "offload batch " + from.tier() + " -> " + to.tier() + " failed", e);
                slots.release();
                done(batch.size());
            }
            batch = new ArrayList<>(batchSize);
        }
        int dropped = queue.size();
        queue.clear();
        done(dropped + batch.size());
    }

    /** Starts one batch's copy; releases its slot when the copy ends. */
    private void submit(List<Request> batch) {
        int asked = batch.size();
        List<ImmutableBlock> sources = new ArrayList<>(asked);
        for (Request r : batch) {
            if (to.pool().isRegistered(r.sequenceHash()) || to.pool().isIncoming(r.sequenceHash())) {
                continue; // already there, or on its way
            }
            ImmutableBlock b = from.pool().acquireRegistered(r.sequenceHash());
            if (b != null) { // else evicted before its turn, and written down then
                sources.add(b);
            }
        }
        manager.metricsImpl().skipped(from.tier(), to.tier(), asked - sources.size());
        if (sources.isEmpty()) {
            slots.release();
            done(asked);
            return;
        }
        List<BlockMeta> metas = new ArrayList<>(sources.size());
        for (ImmutableBlock b : sources) {
            metas.add(b.meta());
        }
        CompletableFuture<Void> written;
        try {
            written = manager.writeDown(from, to, metas);
        } catch (RuntimeException e) {
            KvBlockManager.closeAll(sources);
            throw e; // run() logs it, releases the slot and counts the batch done
        }
        written.whenComplete((v, err) -> {
            KvBlockManager.closeAll(sources);
            slots.release();
            done(asked);
        });
    }

    /** Stops taking batches, drops the queue, and waits up to 30 s for the batches in flight. */
    @Override
    public void close() {
        closed = true;
        worker.interrupt();
        try {
            worker.join(TimeUnit.SECONDS.toMillis(30));
            if (!slots.tryAcquire(maxInFlight, 30, TimeUnit.SECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "offload batches still copying after 30 s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
