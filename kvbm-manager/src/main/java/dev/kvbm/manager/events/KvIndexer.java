package dev.kvbm.manager.events;

import dev.kvbm.manager.TokenBlockSequence;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A KV-aware router's index: from every worker's {@link KvEvent}s it keeps which sequence hashes each worker holds
 * (a sequence hash stands for its whole prefix, so the set is the worker's prefix tree) and answers, for a prompt,
 * how many leading blocks each worker holds.
 *
 * <p>Events are checked for continuity per worker. A gap (an event id more than one past the last) marks the
 * worker stale: its later events are held back, a snapshot is asked of it through the {@link SnapshotSource}
 * (again every {@code retry} until one comes), and when it arrives the worker's blocks are replaced by it and the
 * held-back events after its {@code lastEventId} are applied. A worker first seen in the middle of its stream is
 * resynchronised the same way; event id 1 ({@link KvEvent.Cleared}) from a known worker means it restarted.
 * Malformed input ({@link #acceptJson}) is counted and dropped with a logged reason. Thread-safe.
 *
 * <p>A worker that dies sends nothing more. Given a {@code forgetAfter}, the index forgets a worker it has heard
 * nothing from for that long, so a router stops sending requests after blocks that are gone; publishers send a
 * heartbeat while idle ({@link KvEventPublisher#DEFAULT_HEARTBEAT}), so a live worker is never silent for long. A
 * forgotten worker that speaks again is resynchronised like a new one. Without it, workers leave the index only
 * through {@link #forget} (for a router that follows discovery).
 */
public final class KvIndexer implements Flow.Subscriber<KvEvent>, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(KvIndexer.class.getName());
    /** Events held back for one stale worker at most; past it they are dropped and a new snapshot is asked. */
    static final int MAX_PENDING = 1 << 16;

    private final SnapshotSource snapshots;
    private final Duration retry;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kvbm-indexer");
        t.setDaemon(true);
        return t;
    });
    private final Map<Long, Worker> workers = new HashMap<>(); // guarded by this
    private final Map<Long, Set<Long>> holders = new HashMap<>(); // sequence hash -> workers; guarded by this
    private final AtomicLong gaps = new AtomicLong();
    private final AtomicLong malformed = new AtomicLong();
    private final AtomicLong snapshotsApplied = new AtomicLong();
    private final AtomicLong applied = new AtomicLong();
    private final AtomicLong forgotten = new AtomicLong();
    private final long forgetAfterNanos; // 0: never

    private static final class Worker {
        final Set<Long> hashes = new HashSet<>();
        long instance;
        boolean instanceKnown = true; // false: known from resync() only, until a snapshot says which run it is
        /** Earlier runs of the worker: their late events are ignored. */
        final java.util.ArrayDeque<Long> retired = new java.util.ArrayDeque<>();
        long lastEventId;
        boolean stale;
        boolean requesting;
        final TreeMap<Long, KvEvent> pending = new TreeMap<>();
        long lastHeard = System.nanoTime();
    }

    /**
     * An index that forgets workers only through {@link #forget}.
     *
     * @param snapshots where to ask a worker for its snapshot
     * @param retry     how long to wait for a snapshot before asking again
     */
    public KvIndexer(SnapshotSource snapshots, Duration retry) {
        this(snapshots, retry, Duration.ZERO);
    }

    /**
     * @param snapshots   where to ask a worker for its snapshot
     * @param retry       how long to wait for a snapshot before asking again
     * @param forgetAfter how long a worker may stay silent before it is forgotten as gone, at least a millisecond,
     *                    and best several of its publisher's heartbeats (e.g. 10 s for the default 1 s, so that a
     *                    few lost heartbeats do not drop a live worker); {@link Duration#ZERO} for never
     */
    public KvIndexer(SnapshotSource snapshots, Duration retry, Duration forgetAfter) {
        this.snapshots = Objects.requireNonNull(snapshots, "snapshots");
        this.retry = Objects.requireNonNull(retry, "retry");
        this.forgetAfterNanos = Periods.nanosOrZero(forgetAfter, "forgetAfter", "never", "");
        if (forgetAfterNanos > 0) {
            long period = Math.max(TimeUnit.MILLISECONDS.toNanos(1), forgetAfterNanos / 4);
            timer.scheduleWithFixedDelay(this::forgetSilent, period, period, TimeUnit.NANOSECONDS);
        }
    }

    /** Forgets the workers heard from last more than {@code forgetAfter} ago. */
    private synchronized void forgetSilent() {
        long now = System.nanoTime();
        for (var it = workers.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<Long, Worker> e = it.next();
            if (now - e.getValue().lastHeard > forgetAfterNanos) {
                it.remove();
                clear(e.getKey(), e.getValue());
                forgotten.incrementAndGet();
                LOG.log(System.Logger.Level.INFO, "worker {0}: nothing heard for {1} ms; forgotten",
                        Long.toUnsignedString(e.getKey()), TimeUnit.NANOSECONDS.toMillis(now - e.getValue().lastHeard));
            }
        }
    }

    /**
     * Decodes and applies one event from another process; a malformed one is counted and dropped.
     *
     * @param json the event's JSON ({@link KvEventCodec})
     * @return whether it was well-formed
     */
    public boolean acceptJson(byte[] json) {
        KvEvent event;
        try {
            event = KvEventCodec.decodeEvent(json);
        } catch (KvEventFormatException e) {
            long n = malformed.incrementAndGet();
            if (n <= 10 || n % 1000 == 0) {
                LOG.log(System.Logger.Level.WARNING, "KV event dropped (" + n + " so far): " + e.getMessage());
            }
            return false;
        }
        accept(event);
        return true;
    }

    /**
     * Applies one event (or holds it back while its worker is stale).
     *
     * @param event the event
     */
    public synchronized void accept(KvEvent event) {
        long id = event.workerId();
        Worker w = workers.get(id);
        if (w != null && w.instance != event.instance() && w.retired.contains(event.instance())) {
            return; // a late event of a run that has since restarted
        }
        if (w != null) {
            w.lastHeard = System.nanoTime();
        }
        if (w != null && !w.instanceKnown) {
            hold(id, w, event); // resync() asked for a snapshot; it will say which run these belong to
            return;
        }
        if (event.eventId() == 1 && event.data() instanceof KvEvent.Cleared) {
            // A run's first event: a new worker, or a known one that restarted. Either way it starts empty.
            if (w == null) {
                w = new Worker();
                workers.put(id, w);
            } else if (w.instance != event.instance()) {
                retire(w);
            }
            w.instance = event.instance();
            clear(id, w);
            w.stale = false;
            w.pending.clear();
            w.lastEventId = 1;
            applied.incrementAndGet();
            return;
        }
        if (w == null) {
            w = new Worker();
            w.instance = event.instance();
            workers.put(id, w);
            w.stale = true; // joined mid-stream: what it held before this event is unknown
        } else if (w.instance != event.instance()) {
            // A new run whose first events were lost: start over with it.
            retire(w);
            w.instance = event.instance();
            clear(id, w);
            w.pending.clear();
            w.lastEventId = 0;
            w.stale = true;
        }
        if (w.stale) {
            hold(id, w, event);
            return;
        }
        if (event.eventId() <= w.lastEventId) {
            return; // a duplicate, or older than a snapshot already applied
        }
        if (event.eventId() != w.lastEventId + 1) {
            gaps.incrementAndGet();
            LOG.log(System.Logger.Level.INFO, "worker {0}: event {1} after {2}, {3} lost; asking for a snapshot",
                    Long.toUnsignedString(id), Long.toUnsignedString(event.eventId()),
                    Long.toUnsignedString(w.lastEventId), event.eventId() - w.lastEventId - 1);
            w.stale = true;
            hold(id, w, event);
            return;
        }
        apply(id, w, event);
    }

    private static void retire(Worker w) {
        w.retired.addLast(w.instance);
        if (w.retired.size() > 16) {
            w.retired.removeFirst();
        }
    }

    private void hold(long id, Worker w, KvEvent event) {
        if (w.pending.size() >= MAX_PENDING) {
            w.pending.clear(); // the snapshot to come covers them; ask again so it is taken after these
        }
        w.pending.put(event.eventId(), event);
        requestSnapshot(id, w);
    }

    private void apply(long id, Worker w, KvEvent event) {
        switch (event.data()) {
            case KvEvent.Stored s -> {
                for (KvEvent.StoredBlock b : s.blocks()) {
                    add(id, w, b.sequenceHash());
                }
            }
            case KvEvent.Removed r -> {
                for (long h : r.sequenceHashes()) {
                    remove(id, w, h);
                }
            }
            case KvEvent.Cleared c -> clear(id, w);
        }
        w.lastEventId = event.eventId();
        applied.incrementAndGet();
    }

    private void add(long id, Worker w, long hash) {
        if (w.hashes.add(hash)) {
            holders.computeIfAbsent(hash, k -> new HashSet<>(2)).add(id);
        }
    }

    private void remove(long id, Worker w, long hash) {
        if (w.hashes.remove(hash)) {
            Set<Long> h = holders.get(hash);
            if (h != null && h.remove(id) && h.isEmpty()) {
                holders.remove(hash);
            }
        }
    }

    private void clear(long id, Worker w) {
        for (long hash : new ArrayList<>(w.hashes)) {
            remove(id, w, hash);
        }
    }

    private void requestSnapshot(long id, Worker w) {
        if (w.requesting) {
            return;
        }
        w.requesting = true;
        CompletableFuture<KvSnapshot> reply;
        try {
            reply = snapshots.snapshot(id);
        } catch (RuntimeException e) {
            reply = CompletableFuture.failedFuture(e);
        }
        reply.orTimeout(retry.toMillis(), TimeUnit.MILLISECONDS).whenComplete((snapshot, failure) -> {
            if (failure == null && snapshot.workerId() == id) {
                applySnapshot(id, snapshot);
            } else {
                synchronized (this) {
                    Worker now = workers.get(id);
                    if (now == w) {
                        w.requesting = false;
                        if (w.stale) {
                            LOG.log(System.Logger.Level.DEBUG, "snapshot of worker {0} failed ({1}); asking again",
                                    Long.toUnsignedString(id), failure == null ? "wrong worker" : failure.getMessage());
                            timer.schedule(() -> retryIfStale(id, w), retry.toMillis(), TimeUnit.MILLISECONDS);
                        }
                    }
                }
            }
        });
    }

    private synchronized void retryIfStale(long id, Worker w) {
        if (workers.get(id) == w && w.stale) {
            requestSnapshot(id, w);
        }
    }

    private synchronized void applySnapshot(long id, KvSnapshot snapshot) {
        Worker w = workers.get(id);
        if (w == null) {
            return; // forgotten meanwhile
        }
        w.requesting = false;
        if (!w.stale) {
            return; // a restart (Cleared) settled it meanwhile
        }
        if (!w.instanceKnown) {
            w.instance = snapshot.instance();
            w.instanceKnown = true;
            w.pending.values().removeIf(e -> e.instance() != snapshot.instance());
        }
        if (snapshot.instance() != w.instance) {
            // Answered by another run of the worker than the one whose events are held: ask again.
            timer.schedule(() -> retryIfStale(id, w), retry.toMillis(), TimeUnit.MILLISECONDS);
            return;
        }
        clear(id, w);
        for (KvEvent.StoredBlock b : snapshot.blocks()) {
            add(id, w, b.sequenceHash());
        }
        w.lastEventId = snapshot.lastEventId();
        w.stale = false;
        snapshotsApplied.incrementAndGet();
        List<KvEvent> held = new ArrayList<>(w.pending.tailMap(snapshot.lastEventId(), false).values());
        w.pending.clear();
        for (KvEvent e : held) {
            if (e.eventId() != w.lastEventId + 1) {
                // A hole between the snapshot and what was held back: events lost again, or one that was never the
                // worker's (a forged id far ahead). Held events after the hole are dropped, not held again, and one
                // more snapshot covers whatever genuine ones said: a forged id costs one resync, not an endless loop.
                gaps.incrementAndGet();
                w.stale = true;
                requestSnapshot(id, w);
                return;
            }
            apply(id, w, e);
        }
    }

    /**
     * Asks a worker for its snapshot now, whether or not any of its events were seen: for a router that learns of a
     * worker from discovery, or one that starts after the worker published its events (so that it need not wait
     * for the worker's next event or heartbeat to see the gap).
     *
     * @param workerId the worker
     */
    public synchronized void resync(long workerId) {
        Worker w = workers.get(workerId);
        if (w == null) {
            w = new Worker();
            w.instanceKnown = false;
            workers.put(workerId, w);
        }
        w.stale = true;
        requestSnapshot(workerId, w);
    }

    /**
     * Drops everything known of a worker (it left the fleet).
     *
     * @param workerId the worker
     */
    public synchronized void forget(long workerId) {
        Worker w = workers.remove(workerId);
        if (w != null) {
            clear(workerId, w);
        }
    }

    /**
     * For each worker holding at least the first block of the prompt, how many leading blocks it holds.
     *
     * @param sequenceHashes the prompt's sequence hashes, first block first
     * @return worker id to leading blocks held; workers holding none are absent
     */
    public synchronized Map<Long, Integer> match(long[] sequenceHashes) {
        Map<Long, Integer> out = new HashMap<>();
        if (sequenceHashes.length == 0) {
            return out;
        }
        Set<Long> active = new HashSet<>(holders.getOrDefault(sequenceHashes[0], Set.of()));
        for (int i = 0; i < sequenceHashes.length && !active.isEmpty(); i++) {
            Set<Long> here = holders.getOrDefault(sequenceHashes[i], Set.of());
            active.retainAll(here);
            for (Long worker : active) {
                out.put(worker, i + 1);
            }
        }
        return out;
    }

    /**
     * As {@link #match(long[])}, for a prompt's tokens.
     *
     * @param tokens   the prompt
     * @param pageSize tokens per block, as the workers use
     * @param saltHash the salt hash, as the workers use
     * @return worker id to leading blocks held
     */
    public Map<Long, Integer> match(int[] tokens, int pageSize, long saltHash) {
        return match(TokenBlockSequence.of(tokens, pageSize, saltHash).sequenceHashes());
    }

    /** {@return the workers known, with whether each is waiting for a snapshot} */
    public synchronized Map<Long, Boolean> workers() {
        Map<Long, Boolean> out = new TreeMap<>(Comparator.comparing(Long::toUnsignedString));
        workers.forEach((id, w) -> out.put(id, w.stale));
        return out;
    }

    /**
     * {@return the id of the last event applied for {@code workerId} (0 when unknown)}
     *
     * @param workerId the worker
     */
    public synchronized long lastEventId(long workerId) {
        Worker w = workers.get(workerId);
        return w == null ? 0 : w.lastEventId;
    }

    /** {@return workers forgotten because nothing was heard from them for {@code forgetAfter}} */
    public long forgottenWorkers() {
        return forgotten.get();
    }

    /** {@return gaps seen in event ids} */
    public long gaps() {
        return gaps.get();
    }

    /** {@return malformed events dropped} */
    public long malformedEvents() {
        return malformed.get();
    }

    /** {@return snapshots applied} */
    public long snapshotsApplied() {
        return snapshotsApplied.get();
    }

    /** {@return events applied} */
    public long eventsApplied() {
        return applied.get();
    }

    // Flow.Subscriber, for the in-process bus.

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
        subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(KvEvent item) {
        accept(item);
    }

    @Override
    public void onError(Throwable throwable) {
        LOG.log(System.Logger.Level.WARNING, "KV event stream failed", throwable);
    }

    @Override
    public void onComplete() {
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
