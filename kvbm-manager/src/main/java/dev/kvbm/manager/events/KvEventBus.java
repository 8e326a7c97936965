package dev.kvbm.manager.events;

import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The in-process sink: every event published goes to every subscriber through a {@link Flow.Publisher} with a
 * bounded buffer (a subscriber that falls behind loses events, counted in {@link #droppedEvents()}, and sees the
 * gap), and snapshots are answered by the publishers in this JVM. For workers and routers that share a process,
 * and for tests; NATS carries the same events between processes.
 */
public final class KvEventBus implements KvEventSink, SnapshotSource, Flow.Publisher<KvEvent>, AutoCloseable {
    private final ExecutorService delivery = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "kvbm-event-bus");
        t.setDaemon(true);
        return t;
    });
    private final SubmissionPublisher<KvEvent> publisher;
    private final Map<Long, KvEventPublisher> workers = new ConcurrentHashMap<>();
    private final AtomicLong dropped = new AtomicLong();
    private static volatile KvEventBus shared;

    /**
     * {@return the JVM's bus: where a manager configured with the {@code in-process} sink publishes, and where a
     * router in the same JVM subscribes} It is never closed.
     */
    public static KvEventBus shared() {
        KvEventBus b = shared;
        if (b == null) {
            synchronized (KvEventBus.class) {
                b = shared;
                if (b == null) {
                    b = new KvEventBus();
                    shared = b;
                }
            }
        }
        return b;
    }

    /** A bus whose subscribers each buffer up to 8192 events. */
    public KvEventBus() {
        this(8192);
    }

    /**
     * @param buffer events each subscriber may have waiting
     */
    public KvEventBus(int buffer) {
        this.publisher = new SubmissionPublisher<>(delivery, buffer);
    }

    @Override
    public void publish(KvEvent event) {
        publisher.offer(event, (subscriber, lost) -> {
            dropped.incrementAndGet();
            return false;
        });
    }

    @Override
    public AutoCloseable serveSnapshots(KvEventPublisher worker) {
        workers.put(worker.workerId(), worker);
        return () -> workers.remove(worker.workerId(), worker);
    }

    @Override
    public CompletableFuture<KvSnapshot> snapshot(long workerId) {
        KvEventPublisher worker = workers.get(workerId);
        if (worker == null) {
            return CompletableFuture.failedFuture(new IllegalStateException("no worker "
                    + Long.toUnsignedString(workerId) + " publishes on this bus"));
        }
        return CompletableFuture.supplyAsync(worker::snapshot);
    }

    @Override
    public void subscribe(Flow.Subscriber<? super KvEvent> subscriber) {
        publisher.subscribe(subscriber);
    }

    /** {@return events a subscriber lost because its buffer was full} */
    public long droppedEvents() {
        return dropped.get();
    }

    @Override
    public void close() {
        publisher.close();
        delivery.shutdown();
    }
}
