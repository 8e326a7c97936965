package dev.kvbm.events.nats;

import dev.kvbm.api.KvbmException;
import dev.kvbm.manager.events.KvEvent;
import dev.kvbm.manager.events.KvEventCodec;
import dev.kvbm.manager.events.KvEventPublisher;
import dev.kvbm.manager.events.KvEventSink;
import dev.kvbm.manager.events.KvIndexer;
import dev.kvbm.manager.events.KvSnapshot;
import dev.kvbm.manager.events.SnapshotSource;
import io.nats.client.Connection;
import io.nats.client.Dispatcher;
import io.nats.client.Message;
import io.nats.client.Nats;
import io.nats.client.Options;

import java.io.IOException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

/**
 * KV events on NATS, one connection per process. Events go as JSON ({@link KvEventCodec}) to
 * {@code kvbm.<namespace>.kv-events}; each publishing worker answers snapshot requests on
 * {@code kvbm.<namespace>.kv-snapshot.<workerId>}; {@link #feed(KvIndexer)} subscribes an indexer to the events.
 *
 * <p>The connection reconnects for ever (every 250 ms). Events published while it is down are buffered up to the
 * reconnect buffer and sent once it is back; beyond it, or with a buffer of 0, publishing fails, the publisher
 * counts the event as lost, and the indexer sees the gap and asks for a snapshot. NATS itself delivers at most once,
 * so a subscriber that reconnects later than the publisher loses what was sent in between: the same gap heals it.
 */
public final class NatsKvEvents implements KvEventSink, SnapshotSource, AutoCloseable {
    private static final System.Logger LOG = System.getLogger(NatsKvEvents.class.getName());

    private final Connection connection;
    private final String eventsSubject;
    private final String snapshotPrefix;
    private final Duration requestTimeout;
    private final AtomicLong snapshotsServed = new AtomicLong();

    /**
     * Settings of a connection.
     *
     * @param servers             comma-separated NATS URLs, e.g. {@code nats://10.0.0.5:4222}
     * @param namespace           the fleet's namespace: subjects are {@code kvbm.<namespace>.…}
     * @param reconnectBufferSize bytes of events kept while disconnected; 0 keeps none, -1 no limit
     * @param requestTimeout      how long a snapshot request waits for its answer
     */
    public record Settings(String servers, String namespace, long reconnectBufferSize, Duration requestTimeout) {
        /** Checks the namespace (a subject token) and the timeout. */
        public Settings {
            Objects.requireNonNull(servers, "servers");
            if (!Objects.requireNonNull(namespace, "namespace").matches("[A-Za-z0-9_-]{1,64}")) {
                throw new IllegalArgumentException("NATS namespace '" + namespace + "' must be 1 to 64 letters, digits,"
                        + " '-' or '_' (it becomes a subject token)");
            }
            Objects.requireNonNull(requestTimeout, "requestTimeout");
        }

        /**
         * Defaults: an 8 MiB reconnect buffer and a 2 s snapshot timeout.
         *
         * @param servers   comma-separated NATS URLs
         * @param namespace the fleet's namespace
         * @return the settings
         */
        public static Settings of(String servers, String namespace) {
            return new Settings(servers, namespace, 8L << 20, Duration.ofSeconds(2));
        }
    }

    private NatsKvEvents(Connection connection, Settings settings) {
        this.connection = connection;
        this.eventsSubject = "kvbm." + settings.namespace() + ".kv-events";
        this.snapshotPrefix = "kvbm." + settings.namespace() + ".kv-snapshot.";
        this.requestTimeout = settings.requestTimeout();
    }

    /**
     * Connects.
     *
     * @param settings servers, namespace and buffering
     * @return the connection's events
     * @throws KvbmException when no server answers
     */
    public static NatsKvEvents connect(Settings settings) {
        Options options = new Options.Builder().servers(settings.servers().split(","))
                .connectionName("kvbm-" + ProcessHandle.current().pid())
                .maxReconnects(-1).reconnectWait(Duration.ofMillis(250))
                .connectionTimeout(Duration.ofSeconds(3))
                .reconnectBufferSize(settings.reconnectBufferSize())
                .build();
        try {
            return new NatsKvEvents(Nats.connect(options), settings);
        } catch (IOException e) {
            throw new KvbmException("cannot reach NATS at " + settings.servers() + ": " + e.getMessage()
                    + "; start it (Debian: nats-server) or give the right servers", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new KvbmException("interrupted while connecting to NATS at " + settings.servers(), e);
        }
    }

    /** {@return the subject events go to} */
    public String eventsSubject() {
        return eventsSubject;
    }

    /** {@return the connection's state, e.g. CONNECTED or RECONNECTING} */
    public String status() {
        return connection.getStatus().name();
    }

    /** {@return snapshot requests this connection answered} */
    public long snapshotsServed() {
        return snapshotsServed.get();
    }

    @Override
    public void publish(KvEvent event) {
        connection.publish(eventsSubject, KvEventCodec.encode(event));
    }

    @Override
    public AutoCloseable serveSnapshots(KvEventPublisher publisher) {
        Dispatcher dispatcher = connection.createDispatcher(message -> {
            if (message.getReplyTo() == null) {
                return;
            }
            try {
                connection.publish(message.getReplyTo(), KvEventCodec.encode(publisher.snapshot()));
                snapshotsServed.incrementAndGet();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "could not answer a snapshot request of worker "
                        + Long.toUnsignedString(publisher.workerId()) + ": " + e.getMessage());
            }
        });
        dispatcher.subscribe(snapshotPrefix + Long.toUnsignedString(publisher.workerId()));
        return () -> connection.closeDispatcher(dispatcher);
    }

    @Override
    public CompletableFuture<KvSnapshot> snapshot(long workerId) {
        CompletableFuture<Message> reply = connection.request(snapshotPrefix + Long.toUnsignedString(workerId),
                new byte[0]);
        return reply.orTimeout(requestTimeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
                .thenApply(message -> KvEventCodec.decodeSnapshot(message.getData()));
    }

    /**
     * Subscribes {@code indexer} to the namespace's events (malformed ones are counted there and dropped).
     *
     * @param indexer the index to feed
     * @return closes the subscription
     */
    public AutoCloseable feed(KvIndexer indexer) {
        Dispatcher dispatcher = connection.createDispatcher(message -> indexer.acceptJson(message.getData()));
        dispatcher.subscribe(eventsSubject);
        return () -> connection.closeDispatcher(dispatcher);
    }

    /** Flushes what is buffered (up to 5 s) and closes the connection. */
    @Override
    public void close() {
        try {
            connection.flush(Duration.ofSeconds(5));
        } catch (Exception e) {
            // closing anyway
        }
        try {
            connection.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
