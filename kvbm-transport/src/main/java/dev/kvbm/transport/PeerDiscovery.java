package dev.kvbm.transport;

import dev.kvbm.api.spi.Discovery;

import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Wires a {@link TransportManager} to a worker registry ({@link Discovery}): publishes this worker's exported
 * metadata under its lease, imports every other worker's metadata when it appears, imports it again when it
 * changes, and forgets a worker whose entry disappears — a transfer that still names one of its layouts then fails
 * at once, naming the worker and that its entry disappeared.
 *
 * <p>Metadata in the registry comes from other processes: an entry that does not import
 * ({@link dev.kvbm.api.InvalidMetadataException} and the like) is counted in {@link #rejectedImports()}, logged with
 * the reason, and skipped; the watch goes on.
 */
public final class PeerDiscovery implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(PeerDiscovery.class.getName());

    private final TransportManager manager;
    private final Discovery.Registration registration;
    private final Discovery.Watch watch;
    private final Map<Long, String> peers = new ConcurrentHashMap<>();
    private final AtomicLong rejected = new AtomicLong();
    private final Consumer<String> events;

    private PeerDiscovery(TransportManager manager, Discovery discovery, Consumer<String> events) {
        this.manager = manager;
        this.events = events;
        this.registration = discovery.register(new Discovery.WorkerEntry(manager.workerId(), manager.agentName(),
                manager.exportMetadata().toBytes()));
        Discovery.Watch w;
        try {
            w = discovery.watch(new Discovery.Listener() {
                @Override
                public void joined(Discovery.WorkerEntry entry) {
                    load(entry, "joined");
                }

                @Override
                public void changed(Discovery.WorkerEntry entry) {
                    load(entry, "changed");
                }

                @Override
                public void left(Discovery.WorkerEntry entry) {
                    if (entry.workerId() == manager.workerId()) {
                        return;
                    }
                    peers.remove(entry.workerId());
                    manager.forgetRemote(entry.workerId(), "its discovery entry disappeared (withdrawn, or its lease"
                            + " expired)");
                    // It may also have been reading from us: it is gone, so our agent stops addressing it.
                    manager.agent().ifPresent(a -> a.invalidateRemote(entry.name()));
                    events.accept("left " + Long.toUnsignedString(entry.workerId()) + " " + entry.name());
                }
            });
        } catch (RuntimeException e) {
            registration.close();
            throw e;
        }
        this.watch = w;
    }

    /**
     * Publishes {@code manager}'s metadata in {@code discovery} and keeps its imports in step with the registry.
     *
     * @param manager   the worker's transport manager, with an agent
     * @param discovery a connection to the registry
     * @return the running wiring; close it to withdraw the entry and stop watching
     */
    public static PeerDiscovery start(TransportManager manager, Discovery discovery) {
        return start(manager, discovery, e -> { });
    }

    /**
     * As {@link #start(TransportManager, Discovery)}, reporting each membership change as a line ({@code joined
     * <id> <name> <layouts>}, {@code changed ...}, {@code left <id> <name>}, {@code rejected <id> <reason>}).
     *
     * @param manager   the worker's transport manager, with an agent
     * @param discovery a connection to the registry
     * @param events    receives the lines, on the registry's thread
     * @return the running wiring
     */
    public static PeerDiscovery start(TransportManager manager, Discovery discovery, Consumer<String> events) {
        return new PeerDiscovery(Objects.requireNonNull(manager, "manager"), Objects.requireNonNull(discovery,
                "discovery"), Objects.requireNonNull(events, "events"));
    }

    private void load(Discovery.WorkerEntry entry, String how) {
        if (entry.workerId() == manager.workerId()) {
            return;
        }
        try {
            manager.forgetRemote(entry.workerId()); // a changed entry replaces what was imported
            int layouts = manager.importMetadata(SerializedLayout.fromBytes(entry.metadata())).size();
            peers.put(entry.workerId(), entry.name());
            events.accept(String.format(Locale.ROOT, "%s %s %s %d", how, Long.toUnsignedString(entry.workerId()),
                    entry.name(), layouts));
        } catch (RuntimeException e) {
            rejected.incrementAndGet();
            peers.remove(entry.workerId());
            LOG.log(System.Logger.Level.WARNING, "discovery: could not import " + entry + ": " + e.getMessage());
            events.accept("rejected " + Long.toUnsignedString(entry.workerId()) + " " + e.getMessage());
        }
    }

    /** Publishes this worker's metadata again, e.g. after registering another layout: peers re-import it. */
    public void republish() {
        registration.update(manager.exportMetadata().toBytes());
    }

    /** {@return the workers imported now, worker id to name} */
    public Map<Long, String> peers() {
        return Map.copyOf(peers);
    }

    /** {@return the worker ids imported now} */
    public Set<Long> peerIds() {
        return Set.copyOf(peers.keySet());
    }

    /** {@return entries seen in the registry whose metadata did not import} */
    public long rejectedImports() {
        return rejected.get();
    }

    /** Stops watching and withdraws this worker's entry (the manager stays open). */
    @Override
    public void close() {
        watch.close();
        registration.close();
    }
}
