package dev.kvbm.manager;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SubmissionPublisher;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A pool's store and remove events, in batches (one per pool operation), through {@link Flow.Publisher}. Events of
 * one block arrive in the order they happened. The pool never waits for a subscriber: each subscriber has a
 * bounded buffer, and a batch that does not fit is dropped for that subscriber alone and counted
 * ({@link #droppedEvents()}), so a router that falls behind learns it missed events instead of stalling
 * allocation.
 *
 * <p>Batches are numbered 1, 2, 3, … in the order the pool made them ({@link Batch#sequence()}), so a subscriber
 * that receives a number more than one past the last it saw knows exactly where it lost batches. A drop after the
 * last batch a subscriber receives shows no such skip until the pool publishes again; a {@link DropAware}
 * subscriber is told of its drops at once instead.
 */
public final class BlockEvents implements Flow.Publisher<BlockEvents.Batch>, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(BlockEvents.class.getName());

    /**
     * The events of one pool operation.
     *
     * @param sequence the batch's number in its pool: 1 for the first, one more for each after it
     * @param events   the events, in the order they happened (not empty)
     */
    public record Batch(long sequence, List<BlockEvent> events) {
        /**
         * Copies {@code events}.
         *
         * @throws IllegalArgumentException when the sequence number is below 1 or there are no events
         */
        public Batch {
            Objects.requireNonNull(events, "events");
            if (sequence < 1 || events.isEmpty()) {
                throw new IllegalArgumentException("a batch has a sequence number of at least 1 and at least one "
                        + "event, got " + sequence + " and " + events.size());
            }
            events = List.copyOf(events);
        }
    }

    /**
     * A subscriber that is also told when batches are dropped for it because its buffer was full: the only way to
     * learn of a drop after the last batch it receives.
     */
    public interface DropAware extends Flow.Subscriber<Batch> {
        /**
         * Batches were dropped for this subscriber. Called on the thread that calls {@link #onNext}, never at the
         * same time, soon after the drop: when the batches still buffered before it have been delivered, or
         * earlier. Several drops may be told in one call.
         *
         * @param lastDropped the highest sequence number dropped for this subscriber so far
         */
        void onDropped(long lastDropped);
    }

    private final ExecutorService delivery;
    private final SubmissionPublisher<Batch> publisher;
    private final AtomicLong dropped = new AtomicLong();
    private long sequence; // written under the pool's lock, the only caller of publish
    private volatile long lastSequence;
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
    public void subscribe(Flow.Subscriber<? super Batch> subscriber) {
        Objects.requireNonNull(subscriber, "subscriber");
        subscribed = true;
        publisher.subscribe(subscriber instanceof DropAware d ? new Told(d) : subscriber);
    }

    /**
     * Offers the events of one operation, as the next batch, to every subscriber without waiting; a subscriber
     * whose buffer is full drops it, and it is counted. The caller holds the pool's lock.
     */
    void publish(List<BlockEvent> events) {
        if (events.isEmpty() || publisher.isClosed()) {
            return;
        }
        Batch batch = new Batch(++sequence, events);
        lastSequence = batch.sequence();
        try {
            publisher.offer(batch, (subscriber, lost) -> {
                dropped.addAndGet(lost.events().size());
                if (subscriber instanceof Told t) {
                    t.dropped(lost.sequence());
                }
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

    /**
     * {@return the sequence number of the last batch published, 0 before the first} A subscriber that reads it
     * before subscribing knows that any batch it receives numbered more than one past it follows a batch it
     * missed.
     */
    public long lastSequence() {
        return lastSequence;
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

    /**
     * Stands between the publisher and a {@link DropAware} subscriber to tell it of its drops on the delivery
     * thread, one notice queued at a time however many batches it drops meanwhile (a stalled subscriber costs a
     * bounded amount of memory, as it does without drop notices).
     */
    private final class Told implements Flow.Subscriber<Batch> {
        private final DropAware target;
        private final AtomicBoolean noticeQueued = new AtomicBoolean();
        private volatile long lastDropped;
        private volatile boolean done;

        Told(DropAware target) {
            this.target = target;
        }

        /** A batch was dropped for the target; called by the publishing thread, under the pool's lock. */
        void dropped(long sequence) {
            lastDropped = sequence;
            if (noticeQueued.compareAndSet(false, true)) {
                try {
                    delivery.execute(this::notice);
                } catch (RejectedExecutionException closed) {
                    noticeQueued.set(false); // the stream ended: there is no one left to tell
                }
            }
        }

        private void notice() {
            noticeQueued.set(false); // before reading: a drop after this read queues another notice
            if (done) {
                return;
            }
            try {
                target.onDropped(lastDropped);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "a block-event subscriber failed on a drop notice", e);
            }
        }

        // The publisher refuses a subscriber it already has by equals: two wrappers of one target are one subscriber.
        @Override
        public boolean equals(Object o) {
            return o instanceof Told t && t.target == target;
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(target);
        }

        @Override
        public void onSubscribe(Flow.Subscription subscription) {
            target.onSubscribe(subscription);
        }

        @Override
        public void onNext(Batch batch) {
            target.onNext(batch);
        }

        @Override
        public void onError(Throwable error) {
            done = true;
            target.onError(error);
        }

        @Override
        public void onComplete() {
            done = true;
            target.onComplete();
        }
    }
}
