package dev.kvbm.manager;

import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A pool's store and remove events, in batches (one per pool operation), through {@link Flow.Publisher}. Events of
 * one block arrive in the order they happened. The pool never waits for a subscriber: each subscriber has a
 * bounded buffer, and a batch that does not fit is dropped for that subscriber and counted
 * ({@link #droppedEvents()}), so a router that falls behind learns it missed events instead of stalling
 * allocation.
 */
public final class BlockEvents implements Flow.Publisher<List<BlockEvent>>, AutoCloseable {
    private final ExecutorService delivery;
    private final SubmissionPublisher<List<BlockEvent>> publisher;
    private final AtomicLong dropped = new AtomicLong();
    private volatile boolean subscribed;

    BlockEvents(String tier, int bufferBatches) {
        this.delivery = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "kvbm-events-" + tier);
            t.setDaemon(true);
            return t;
        });
        this.publisher = new SubmissionPublisher<>(delivery, bufferBatches);
    }

    @Override
    public void subscribe(Flow.Subscriber<? super List<BlockEvent>> subscriber) {
        subscribed = true;
        publisher.subscribe(subscriber);
    }

    /** Offers a batch to every subscriber without waiting; a full subscriber drops it and it is counted. */
    void publish(List<BlockEvent> batch) {
        if (batch.isEmpty() || publisher.isClosed()) {
            return;
        }
        try {
            publisher.offer(List.copyOf(batch), (subscriber, lost) -> {
                dropped.addAndGet(lost.size());
                return false;
            });
        } catch (IllegalStateException closedMeanwhile) {
            // close() raced this batch: the stream has ended, and the pool's operation must not fail for it
        }
    }

    /**
     * {@return true once anyone has subscribed: the pool builds events only then (a plain field read, where the
     * publisher's own check takes a lock on every call of the pool's hot paths)}
     */
    boolean hasSubscribers() {
        return subscribed;
    }

    /** {@return events dropped because a subscriber's buffer was full, over all subscribers} */
    public long droppedEvents() {
        return dropped.get();
    }

    /**
     * {@return an estimate of the batches published but not yet taken by the slowest subscriber} 0 means every
     * subscriber has at least started on everything published so far.
     */
    public long lag() {
        return publisher.estimateMaximumLag();
    }

    /** {@return the number of current subscribers} */
    public int subscribers() {
        return publisher.getNumberOfSubscribers();
    }

    /** Completes every subscription; idempotent. */
    @Override
    public void close() {
        publisher.close();
        delivery.shutdown();
    }
}
