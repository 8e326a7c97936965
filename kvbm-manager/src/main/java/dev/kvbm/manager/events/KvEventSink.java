package dev.kvbm.manager.events;

/**
 * Where a {@link KvEventPublisher} sends a worker's events: the in-process {@link KvEventBus}, or NATS
 * ({@code kvbm-events-nats}). Chosen by configuration.
 */
public interface KvEventSink extends AutoCloseable {
    /**
     * Sends one event. May throw when the transport is down: the publisher counts the event as lost, and consumers
     * see the gap in event ids and ask for a snapshot.
     *
     * @param event the event
     */
    void publish(KvEvent event);

    /**
     * Makes {@code publisher}'s snapshots available to consumers (the bus answers in process; NATS answers
     * requests on the worker's snapshot subject). The default does nothing.
     *
     * @param publisher the worker's publisher
     * @return closes the answering
     */
    default AutoCloseable serveSnapshots(KvEventPublisher publisher) {
        return () -> { };
    }

    /** Releases the sink's connection, if it has one; the default does nothing. */
    @Override
    default void close() {
    }
}
