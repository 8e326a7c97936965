package dev.kvbm.manager.events;

import dev.kvbm.manager.BlockEvent;
import dev.kvbm.manager.BlockEvents;
import dev.kvbm.manager.BlockPool;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Turns one pool's store and remove events into a worker's {@link KvEvent}s with consecutive event ids, and sends
 * them to a {@link KvEventSink}. Its first event is {@link KvEvent.Cleared} with id 1, so consumers drop whatever
 * they knew of an earlier run of the worker. Registrations of a chain (each block's parent the block before it)
 * become one {@link KvEvent.Stored}; the evictions of one pool operation one {@link KvEvent.Removed}.
 *
 * <p>An event the sink refuses still uses up its event id, so every consumer sees a gap and asks for a
 * {@link #snapshot()}. Batches the pool drops because this publisher fell behind (its buffer of 1024 batches full)
 * use up an id the same way, placed where they stood: the publisher follows the pool's batch numbers and skips an
 * id where a number is missing, or, for drops after the last batch it received, when the pool tells it of them
 * ({@link BlockEvents.DropAware}). The place matters: a consumer resynchronises from a snapshot (the pool as it is
 * now) and then applies the events numbered after it, so an event of a batch older than the dropped ones must not
 * come after the skipped id; should a drop notice ever arrive before batches that were buffered ahead of the drop,
 * the publisher skips another id after each of them. Drops for other subscribers of the same pool cost it nothing.
 * An id is never skipped silently: an event follows it at once, the next batch's or, when no batch follows (drops at
 * the very end of a burst, after which the worker may stay idle), a {@link KvEvent.Removed} with no hashes, which
 * changes nothing. So a consumer sees the gap without waiting for the worker's next operation.
 *
 * <p>An event the transport loses at the end of a burst (NATS delivers at most once) leaves no skipped id for the
 * publisher to show. For that, a publisher that has sent nothing for a {@linkplain #DEFAULT_HEARTBEAT heartbeat}
 * sends the same event that changes nothing, and again after every further heartbeat of silence: a consumer learns
 * of a lost last event within about two heartbeats, though the worker stays idle. An idle worker costs one small
 * message a heartbeat.
 */
public final class KvEventPublisher implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(KvEventPublisher.class.getName());

    /** How long a publisher stays silent before it sends an event that changes nothing: 1 second. */
    public static final Duration DEFAULT_HEARTBEAT = Duration.ofSeconds(1);

    private final long workerId;
    private final long instance = new java.security.SecureRandom().nextLong();
    private final BlockPool pool;
    private final KvEventSink sink;
    private final Object lock = new Object();
    // Written under lock; volatile so that readers never wait for a sink that hangs.
    private volatile long lastEventId;
    /** Every pool batch up to this number was published or had an id skipped for it. */
    private volatile long covered;
    /** The highest drop a notice told of; guarded by lock. */
    private long noticed;
    private final AtomicLong droppedBatches = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private volatile Flow.Subscription subscription;
    private final AutoCloseable snapshots;
    private boolean sentSinceBeat; // guarded by lock
    private final ScheduledExecutorService heartbeats; // null when off

    /**
     * Starts publishing, with the {@link #DEFAULT_HEARTBEAT}: sends {@link KvEvent.Cleared}, then every event of
     * {@code pool}, and serves snapshots through the sink.
     *
     * @param workerId the worker's id
     * @param pool     the pool whose registered blocks the events describe (a router follows the first tier)
     * @param sink     where the events go
     */
    public KvEventPublisher(long workerId, BlockPool pool, KvEventSink sink) {
        this(workerId, pool, sink, DEFAULT_HEARTBEAT);
    }

    /**
     * Starts publishing: sends {@link KvEvent.Cleared}, then every event of {@code pool}, and serves snapshots
     * through the sink.
     *
     * @param workerId  the worker's id
     * @param pool      the pool whose registered blocks the events describe (a router follows the first tier)
     * @param sink      where the events go
     * @param heartbeat the silence after which an event that changes nothing is sent, at least a millisecond;
     *                  {@link Duration#ZERO} for none (then a lost last event shows only with the worker's next
     *                  operation)
     */
    public KvEventPublisher(long workerId, BlockPool pool, KvEventSink sink, Duration heartbeat) {
        long nanos = Periods.nanosOrZero(heartbeat, "the heartbeat", "none",
                " (shorter ones would flood the sink with empty events)");
        this.workerId = workerId;
        this.pool = Objects.requireNonNull(pool, "pool");
        this.sink = Objects.requireNonNull(sink, "sink");
        synchronized (lock) {
            covered = pool.events().lastSequence(); // batches from before this publisher describe nothing it sent
            send(new KvEvent.Cleared());
        }
        pool.events().subscribe(new BlockEvents.DropAware() {
            @Override
            public void onSubscribe(Flow.Subscription s) {
                subscription = s;
                s.request(Long.MAX_VALUE);
            }

            @Override
            public void onNext(BlockEvents.Batch batch) {
                publish(batch);
            }

            @Override
            public void onDropped(long lastDropped) {
                synchronized (lock) {
                    noticed = Math.max(noticed, lastDropped);
                    if (lastDropped > covered) { // not yet seen as a skipped number: the drops are the newest
                        skipForDrops();
                        sendNothing(); // shows the skipped id
                        covered = lastDropped;
                    }
                }
            }

            @Override
            public void onError(Throwable t) {
                LOG.log(System.Logger.Level.WARNING, "block events of pool " + pool.name() + " failed", t);
            }

            @Override
            public void onComplete() {
            }
        });
        this.snapshots = sink.serveSnapshots(this);
        if (nanos == 0) {
            this.heartbeats = null;
        } else {
            // A thread of its own: a beat waits for the lock while a sink hangs, and must not hold up anyone else's.
            this.heartbeats = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "kvbm-kv-events-heartbeat-" + Long.toUnsignedString(workerId));
                t.setDaemon(true);
                return t;
            });
            heartbeats.scheduleWithFixedDelay(this::beat, nanos, nanos, TimeUnit.NANOSECONDS);
        }
    }

    /** Sends an event that changes nothing when nothing was sent since the last beat. */
    private void beat() {
        synchronized (lock) {
            if (!sentSinceBeat) {
                sendNothing();
            }
            sentSinceBeat = false;
        }
    }

    /** {@return the worker's id} */
    public long workerId() {
        return workerId;
    }

    /** {@return the id of the last event published (or lost), 1 right after start} */
    public long lastEventId() {
        return lastEventId;
    }

    /**
     * {@return event ids used up without an event: events the sink refused, and one for each run of batches the
     * pool dropped because this publisher fell behind}
     */
    public long failedEvents() {
        return failed.get();
    }

    /** {@return the times batches the pool dropped for this publisher cost an event id ({@link #failedEvents()})} */
    public long droppedBatchRuns() {
        return droppedBatches.get();
    }

    /**
     * {@return how many of the pool's batches this publisher has not yet published or skipped} 0 when it has caught
     * up; it grows while the sink is slower than the pool, and past the pool's buffer of 1024 batches the pool drops
     * batches for it.
     */
    public long batchesBehind() {
        return Math.max(0, pool.events().lastSequence() - covered);
    }

    /** Uses up an id for batches the pool dropped for us, so consumers resynchronise; the caller holds the lock. */
    private void skipForDrops() {
        lastEventId++;
        failed.incrementAndGet();
        droppedBatches.incrementAndGet();
    }

    private void publish(BlockEvents.Batch batch) {
        synchronized (lock) {
            if (batch.sequence() > covered + 1) { // the batches between were dropped for us, right here
                skipForDrops();
            }
            List<KvEvent.StoredBlock> chain = new ArrayList<>();
            OptionalLong chainParent = OptionalLong.empty();
            long chainTail = 0;
            List<Long> removed = new ArrayList<>();
            for (BlockEvent e : batch.events()) {
                switch (e) {
                    case BlockEvent.Stored s -> {
                        if (!removed.isEmpty()) {
                            sendRemoved(removed);
                        }
                        boolean continues = !chain.isEmpty() && s.parentHash().isPresent()
                                && s.parentHash().getAsLong() == chainTail;
                        if (!continues && !chain.isEmpty()) {
                            send(new KvEvent.Stored(chainParent, chain));
                            chain = new ArrayList<>();
                        }
                        if (chain.isEmpty()) {
                            chainParent = s.parentHash();
                        }
                        chain.add(new KvEvent.StoredBlock(s.sequenceHash(), s.blockHash()));
                        chainTail = s.sequenceHash();
                    }
                    case BlockEvent.Removed r -> {
                        if (!chain.isEmpty()) {
                            send(new KvEvent.Stored(chainParent, chain));
                            chain = new ArrayList<>();
                        }
                        removed.add(r.sequenceHash());
                    }
                }
            }
            if (!chain.isEmpty()) {
                send(new KvEvent.Stored(chainParent, chain));
            }
            if (!removed.isEmpty()) {
                sendRemoved(removed);
            }
            if (batch.sequence() < noticed) { // older than drops already skipped for: skip again after it
                skipForDrops();
                sendNothing(); // shows the skipped id
            }
            // Last, so batchesBehind() counts a batch until its events are out. Lower: buffered before drops that a
            // notice already skipped for.
            covered = Math.max(covered, batch.sequence());
        }
    }

    /** Sends an event that changes nothing but uses up an id, which shows the ids before it; under the lock. */
    private void sendNothing() {
        send(new KvEvent.Removed(new long[0]));
    }

    private void sendRemoved(List<Long> removed) {
        send(new KvEvent.Removed(removed.stream().mapToLong(Long::longValue).toArray()));
        removed.clear();
    }

    /** Sends one event with the next id; the caller holds the lock. */
    private void send(KvEvent.Data data) {
        KvEvent event = new KvEvent(workerId, instance, ++lastEventId, data);
        sentSinceBeat = true;
        try {
            sink.publish(event);
        } catch (RuntimeException e) {
            if (failed.incrementAndGet() == 1 || failed.get() % 1000 == 0) {
                LOG.log(System.Logger.Level.WARNING, "KV event sink refused event " + event.eventId() + " of worker "
                        + Long.toUnsignedString(workerId) + " (" + failed.get() + " so far; consumers will resync): "
                        + e.getMessage());
            }
        }
    }

    /**
     * The pool's registered blocks now, with the id of the last event published before them; taken under the
     * pool's lock, so every change the blocks reflect has an id after {@code lastEventId} or is included.
     *
     * @return the snapshot
     */
    public KvSnapshot snapshot() {
        long[] last = new long[1];
        // Read under the pool's lock: every event with a higher id either follows the snapshot's state or repeats a
        // change it already holds (the publisher may be halfway through a batch), which consumers apply idempotently.
        List<BlockPool.RegisteredBlock> blocks = pool.registeredBlocks(() -> last[0] = lastEventId);
        List<KvEvent.StoredBlock> out = new ArrayList<>(blocks.size());
        for (BlockPool.RegisteredBlock b : blocks) {
            out.add(new KvEvent.StoredBlock(b.sequenceHash(), b.blockHash()));
        }
        return new KvSnapshot(workerId, instance, last[0], out);
    }

    /** Stops publishing, heartbeats included, and serving snapshots. */
    @Override
    public void close() {
        if (heartbeats != null) {
            heartbeats.shutdownNow();
        }
        Flow.Subscription s = subscription;
        if (s != null) {
            s.cancel();
        }
        try {
            snapshots.close();
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "closing the snapshot service of worker "
                    + Long.toUnsignedString(workerId) + " failed", e);
        }
    }
}
