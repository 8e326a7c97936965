package dev.kvbm.manager.events;

import dev.kvbm.manager.BlockEvent;
import dev.kvbm.manager.BlockPool;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Turns one pool's store and remove events into a worker's {@link KvEvent}s with consecutive event ids, and sends
 * them to a {@link KvEventSink}. Its first event is {@link KvEvent.Cleared} with id 1, so consumers drop whatever
 * they knew of an earlier run of the worker. Registrations of a chain (each block's parent the block before it)
 * become one {@link KvEvent.Stored}; the evictions of one pool operation one {@link KvEvent.Removed}.
 *
 * <p>An event the sink refuses still uses up its event id, so every consumer sees a gap and asks for a
 * {@link #snapshot()}. Batches the pool drops because this publisher fell behind (its buffer of 1024 batches
 * full) are noticed only when the next batch arrives, from the pool's drop count, and the id skipped for them is
 * placed there rather than where the dropped batch stood: a drop at the very end of a burst, or one between older
 * batches still buffered, can leave an index wrong until the worker publishes again and a later gap resyncs it.
 * Known limitation, not yet fixed; it needs the pool to tag its batches so that a drop is placed in order.
 */
public final class KvEventPublisher implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(KvEventPublisher.class.getName());

    private final long workerId;
    private final long instance = new java.security.SecureRandom().nextLong();
    private final BlockPool pool;
    private final KvEventSink sink;
    private final Object lock = new Object();
    private long lastEventId; // guarded by lock
    private long poolDropsSeen; // guarded by lock
    private final AtomicLong failed = new AtomicLong();
    private volatile Flow.Subscription subscription;
    private final AutoCloseable snapshots;

    /**
     * Starts publishing: sends {@link KvEvent.Cleared}, then every event of {@code pool}, and serves snapshots
     * through the sink.
     *
     * @param workerId the worker's id
     * @param pool     the pool whose registered blocks the events describe (a router follows the first tier)
     * @param sink     where the events go
     */
    public KvEventPublisher(long workerId, BlockPool pool, KvEventSink sink) {
        this.workerId = workerId;
        this.pool = Objects.requireNonNull(pool, "pool");
        this.sink = Objects.requireNonNull(sink, "sink");
        synchronized (lock) {
            send(new KvEvent.Cleared());
        }
        pool.events().subscribe(new Flow.Subscriber<>() {
            @Override
            public void onSubscribe(Flow.Subscription s) {
                subscription = s;
                s.request(Long.MAX_VALUE);
            }

            @Override
            public void onNext(List<BlockEvent> batch) {
                publish(batch);
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
    }

    /** {@return the worker's id} */
    public long workerId() {
        return workerId;
    }

    /** {@return the id of the last event published (or lost), 1 right after start} */
    public long lastEventId() {
        synchronized (lock) {
            return lastEventId;
        }
    }

    /** {@return events the sink refused} */
    public long failedEvents() {
        return failed.get();
    }

    private void publish(List<BlockEvent> batch) {
        synchronized (lock) {
            long drops = pool.events().droppedEvents();
            if (drops != poolDropsSeen) {
                // The pool dropped batches for a slow subscriber (maybe us): skip an id so consumers resynchronise.
                poolDropsSeen = drops;
                lastEventId++;
                failed.incrementAndGet();
            }
            List<KvEvent.StoredBlock> chain = new ArrayList<>();
            OptionalLong chainParent = OptionalLong.empty();
            long chainTail = 0;
            List<Long> removed = new ArrayList<>();
            for (BlockEvent e : batch) {
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
        }
    }

    private void sendRemoved(List<Long> removed) {
        send(new KvEvent.Removed(removed.stream().mapToLong(Long::longValue).toArray()));
        removed.clear();
    }

    /** Sends one event with the next id; the caller holds the lock. */
    private void send(KvEvent.Data data) {
        KvEvent event = new KvEvent(workerId, instance, ++lastEventId, data);
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
        List<BlockPool.RegisteredBlock> blocks = pool.registeredBlocks(() -> {
            synchronized (lock) {
                last[0] = lastEventId;
            }
        });
        List<KvEvent.StoredBlock> out = new ArrayList<>(blocks.size());
        for (BlockPool.RegisteredBlock b : blocks) {
            out.add(new KvEvent.StoredBlock(b.sequenceHash(), b.blockHash()));
        }
        return new KvSnapshot(workerId, instance, last[0], out);
    }

    /** Stops publishing and serving snapshots. */
    @Override
    public void close() {
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
