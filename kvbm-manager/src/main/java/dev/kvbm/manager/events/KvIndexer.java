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
    /**
     * Bytes of events held back for one worker at most (as {@link #heldBytes} estimates them); past it they are
     * dropped and a new snapshot is asked, as past {@link #MAX_PENDING}.
     */
    static final long MAX_PENDING_BYTES = 16L << 20;
    /** Bytes of events held back for all workers together at most; past it the worker adding more drops its own. */
    static final long MAX_PENDING_BYTES_TOTAL = 128L << 20;

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
    private final AtomicLong disputes = new AtomicLong();
    private final long forgetAfterNanos; // 0: never
    private long heldBytesTotal; // guarded by this

    /** Events held back, by event id, with what they are estimated to retain. Guarded by the indexer's lock. */
    private final class Held {
        private final TreeMap<Long, KvEvent> events = new TreeMap<>();
        private long bytes;

        /** Holds an event; {@return false, holding nothing more, when this or every worker's bound would be passed} */
        boolean add(KvEvent e) {
            long size = heldBytes(e);
            if (events.size() >= MAX_PENDING || bytes + size > MAX_PENDING_BYTES
                    || heldBytesTotal + size > MAX_PENDING_BYTES_TOTAL) {
                clear();
                return false;
            }
            KvEvent before = events.put(e.eventId(), e);
            long freed = before == null ? 0 : heldBytes(before);
            bytes += size - freed;
            heldBytesTotal += size - freed;
            return true;
        }

        void clear() {
            events.clear();
            heldBytesTotal -= bytes;
            bytes = 0;
        }

        /** Keeps only the events of run {@code instance}. */
        void keepRun(long instance) {
            for (var it = events.values().iterator(); it.hasNext(); ) {
                KvEvent e = it.next();
                if (e.instance() != instance) {
                    it.remove();
                    bytes -= heldBytes(e);
                    heldBytesTotal -= heldBytes(e);
                }
            }
        }

        /** {@return the events after {@code eventId}, in order}; holds nothing afterwards */
        List<KvEvent> takeAfter(long eventId) {
            List<KvEvent> out = new ArrayList<>(events.tailMap(eventId, false).values());
            clear();
            return out;
        }

        /** Moves every event of {@code other} here (this one empty before). */
        void takeFrom(Held other) {
            clear();
            events.putAll(other.events);
            bytes = other.bytes;
            other.events.clear();
            other.bytes = 0;
        }
    }

    private final class Worker {
        final Set<Long> hashes = new HashSet<>();
        long instance;
        boolean instanceKnown = true; // false: known from resync() only, until a snapshot says which run it is
        /**
         * Runs of the worker taken as ended: their late events are not applied, but ask the worker (at most once a
         * {@code retry}) which run is current, since what ended them may have been forged or a stale snapshot.
         */
        final java.util.ArrayDeque<Long> retired = new java.util.ArrayDeque<>();
        long lastEventId;
        boolean stale;
        boolean requesting;
        final Held pending = new Held();
        /**
         * A run seen in events that is neither the current one nor retired: the worker restarted and its first
         * events were lost, a late event of a run between two restarts, or a forgery. The current run's state stays
         * until the worker's snapshot says which run is current; the candidate's events wait in candidateEvents.
         */
        boolean hasCandidate;
        long candidate;
        final Held candidateEvents = new Held();
        long requests; // snapshot requests made
        long adoptedAt = -1; // requests made when the current run was adopted from its first event
        long lastDispute = System.nanoTime() - Long.MAX_VALUE / 2;
        long lastHeard = System.nanoTime();

        void dropHeld() {
            pending.clear();
            candidateEvents.clear();
        }
    }

    /** {@return roughly the heap an event held back retains: what bounds the events held} */
    static long heldBytes(KvEvent e) {
        return 96 + switch (e.data()) {
            case KvEvent.Stored s -> 40L * s.blocks().size();
            case KvEvent.Removed r -> 8L * r.sequenceHashes().length;
            case KvEvent.Cleared c -> 0L;
        };
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
                e.getValue().dropHeld();
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
        if (w != null) {
            w.lastHeard = System.nanoTime();
        }
        if (w != null && !w.instanceKnown) {
            hold(id, w, event); // resync() asked for a snapshot; it will say which run these belong to
            return;
        }
        boolean first = event.eventId() == 1 && event.data() instanceof KvEvent.Cleared;
        if (w != null && w.instance != event.instance()) {
            if (w.retired.contains(event.instance())) {
                dispute(id, w); // a late event of an ended run, or the real run, ended by a forgery: ask
                return;
            }
            if (!first) {
                // A run not seen before, past its first event: keep the current run until the worker says.
                if (!w.hasCandidate || w.candidate != event.instance()) {
                    w.hasCandidate = true;
                    w.candidate = event.instance();
                    w.candidateEvents.clear();
                }
                w.candidateEvents.add(event);
                requestSnapshot(id, w);
                return;
            }
        }
        if (first) {
            // A run's first event: a new worker, or a known one that restarted. Either way it starts empty.
            if (w == null) {
                w = new Worker();
                workers.put(id, w);
            } else if (w.instance != event.instance()) {
                retire(w, w.instance);
                w.adoptedAt = w.requests; // a snapshot asked before now may be of the run this one replaced
            }
            w.instance = event.instance();
            if (w.hasCandidate && w.candidate == event.instance()) {
                w.hasCandidate = false;
                w.candidateEvents.clear();
            }
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

    /** An event of a run taken as ended: asks the worker for its snapshot, at most once a {@code retry}. */
    private void dispute(long id, Worker w) {
        long now = System.nanoTime();
        if (now - w.lastDispute >= retry.toNanos()) {
            w.lastDispute = now;
            disputes.incrementAndGet();
            requestSnapshot(id, w);
        }
    }

    private static void retire(Worker w, long instance) {
        w.retired.remove(instance);
        w.retired.addLast(instance);
        if (w.retired.size() > 16) {
            w.retired.removeFirst();
        }
    }

    private void hold(long id, Worker w, KvEvent event) {
        if (!w.pending.add(event)) {
            // Past the bounds: the held events are dropped. The snapshot to come covers them; if it was taken before
            // some of them, the hole after it shows, and one more snapshot is asked then.
            w.pending.add(event);
        }
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
        long asked = ++w.requests;
        CompletableFuture<KvSnapshot> reply;
        try {
            reply = snapshots.snapshot(id);
        } catch (RuntimeException e) {
            reply = CompletableFuture.failedFuture(e);
        }
        reply.orTimeout(retry.toMillis(), TimeUnit.MILLISECONDS).whenComplete((snapshot, failure) -> {
            if (failure == null && snapshot.workerId() == id) {
                applySnapshot(id, w, asked, snapshot);
            } else {
                synchronized (this) {
                    Worker now = workers.get(id);
                    if (now == w) {
                        w.requesting = false;
                        if (w.stale || w.hasCandidate) {
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
        if (workers.get(id) == w && (w.stale || w.hasCandidate)) {
            requestSnapshot(id, w);
        }
    }

    /**
     * The worker's own word on its state: which run is current (every other run seen is taken as ended) and, when
     * the index is stale, what it holds. Only a snapshot asked before the current run was adopted from its first
     * event is doubted (it may predate the restart): then it is asked again.
     */
    private synchronized void applySnapshot(long id, Worker w, long asked, KvSnapshot snapshot) {
        if (workers.get(id) != w) {
            return; // forgotten meanwhile
        }
        w.requesting = false;
        long run = snapshot.instance();
        if (!w.instanceKnown) {
            w.instance = run;
            w.instanceKnown = true;
            w.pending.keepRun(run);
        }
        if (run != w.instance) {
            if (asked <= w.adoptedAt) {
                // Asked before the current run's first event came: this may be the run it replaced. Ask again.
                timer.schedule(() -> retryIfStale(id, w), retry.toMillis(), TimeUnit.MILLISECONDS);
                if (!w.stale && !w.hasCandidate) {
                    w.stale = true; // so that the retry goes ahead; the current run's events are held meanwhile
                }
                return;
            }
            LOG.log(System.Logger.Level.INFO, "worker {0}: its snapshot names run {1}, not {2}; following it",
                    Long.toUnsignedString(id), Long.toUnsignedString(run), Long.toUnsignedString(w.instance));
            retire(w, w.instance);
            w.retired.remove(run);
            w.instance = run;
            if (w.hasCandidate && w.candidate == run) {
                w.pending.takeFrom(w.candidateEvents);
            } else {
                w.pending.clear();
            }
            w.stale = true;
        }
        if (w.hasCandidate) {
            if (w.candidate != run) {
                retire(w, w.candidate); // its late events, or a forgery's, are not applied
            }
            w.hasCandidate = false;
            w.candidateEvents.clear();
        }
        if (!w.stale) {
            return; // a restart (Cleared) settled it meanwhile, or the snapshot only said which run is current
        }
        clear(id, w);
        for (KvEvent.StoredBlock b : snapshot.blocks()) {
            add(id, w, b.sequenceHash());
        }
        w.lastEventId = snapshot.lastEventId();
        w.stale = false;
        snapshotsApplied.incrementAndGet();
        List<KvEvent> held = w.pending.takeAfter(snapshot.lastEventId());
        for (KvEvent e : held) {
            if (e.instance() != w.instance) {
                continue;
            }
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
            w.dropHeld();
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

    /** {@return events of runs taken as ended that made the index ask the worker which run is current} */
    public long disputes() {
        return disputes.get();
    }

    /** {@return bytes of events held back for all workers now, as estimated to bound them} */
    public synchronized long heldBackBytes() {
        return heldBytesTotal;
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
