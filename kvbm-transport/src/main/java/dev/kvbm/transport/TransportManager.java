package dev.kvbm.transport;

import dev.kvbm.api.InvalidMetadataException;
import dev.kvbm.api.Layout;
import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentDescriptor;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.AgentTransfer;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.DescriptorList;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.Notification;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;
import dev.kvbm.api.spi.TransferExecutorProvider;
import dev.kvbm.layout.BlockTransfers;
import dev.kvbm.layout.Layouts;
import dev.kvbm.layout.LayoutDescriptor;
import dev.kvbm.layout.NixlMetadata;
import dev.kvbm.layout.OwnedLayout;
import dev.kvbm.layout.PhysicalLayout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * One worker's entry point for moving KV blocks: it registers local layouts under {@link LayoutHandle}s, publishes
 * them to peers ({@link #exportMetadata()}) and imports theirs ({@link #importMetadata}), and moves blocks between
 * any two registered layouts with {@link #executeTransfer}.
 *
 * <p>The strategy follows the storage kinds (the table in this package's overview): two local layouts are copied
 * by the first available {@link TransferExecutorProvider} that supports their kinds; a remote layout is reached
 * with the agent's READ (remote source) or WRITE (remote destination). Providers are found only through
 * {@link Backends}; when none handles a pair of kinds the error names the kinds and the module that would.
 *
 * <p>Every transfer is validated before a byte moves: list lengths, ids in range, destinations unique, source and
 * destination blocks apart within one layout, and layouts that agree on layers, outer dimension and region size.
 * Whole blocks between two FullyContiguous layouts move as one copy per block, and adjacent copies coalesce.
 *
 * <p>Thread-safe. The manager does not own registered layouts: unregister a layout (or close the manager, which
 * withdraws every registration) before freeing its memory. {@link #close()} closes the executors and the agent.
 */
public final class TransportManager implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(TransportManager.class.getName());

    private final long workerId;
    private final String agentName;
    private final Backends backends;
    private final Agent agent; // null: no agent provider available; local transfers only
    private final String agentProvider; // the provider's name, null without an agent
    private final Object registry = new Object();

    private final Map<LayoutHandle, LocalLayout> locals = new ConcurrentHashMap<>();
    /** The handle each registered storage has, guarded by {@code registry}: one handle per memory. */
    private final Map<Storage, LayoutHandle> handleOfStorage = new IdentityHashMap<>();
    private final Map<LayoutHandle, RemoteLayout> remotes = new ConcurrentHashMap<>();
    private final Set<WorkerAddress> loadedRemotes = new HashSet<>(); // guarded by registry
    private final Map<Long, String> departed = new ConcurrentHashMap<>(); // worker id -> why it was forgotten
    private final Map<String, TransferExecutor> executors = new HashMap<>(); // guarded by itself
    private int nextLayoutId; // guarded by registry
    private volatile boolean closed;

    private record LocalLayout(LayoutHandle handle, OwnedLayout layout, Agent.Registration registration,
                               Lifetime.Hook hook) {
    }

    private record RemoteLayout(LayoutHandle handle, PhysicalLayout layout, WorkerAddress worker) {
    }

    private TransportManager(long workerId, String agentName, Backends backends, Agent agent, String agentProvider) {
        this.workerId = workerId;
        this.agentName = agentName;
        this.backends = backends;
        this.agent = agent;
        this.agentProvider = agentProvider;
    }

    /** {@return a builder; only the worker id is required} */
    public static Builder builder() {
        return new Builder();
    }

    /** {@return this worker's id} */
    public long workerId() {
        return workerId;
    }

    /** {@return the name of this worker's agent (also used in descriptors when there is no agent)} */
    public String agentName() {
        return agentName;
    }

    /**
     * {@return which agent provider this manager's agent came from ({@code ucx}, {@code local}, ...), empty without
     * an agent} {@link #agentName()} is the agent's own name, which peers know it by.
     */
    public Optional<String> agentProvider() {
        return Optional.ofNullable(agentProvider);
    }

    /** {@return the agent this manager moves remote blocks with, if an agent provider was available} */
    public Optional<Agent> agent() {
        return Optional.ofNullable(agent);
    }

    /**
     * Registers a local layout and returns its handle; ids are assigned from 0. System, Pinned and Device layouts
     * are also registered with the agent (when the agent accepts their memory), which makes them exportable.
     *
     * @param layout a live layout; this manager does not take ownership, the caller still closes it
     * @return the layout's handle on this worker
     * @throws IllegalStateException when 65535 layouts have been registered, or the manager is closed
     */
    public LayoutHandle registerLayout(OwnedLayout layout) {
        Objects.requireNonNull(layout, "layout");
        synchronized (registry) {
            ensureOpen();
            if (nextLayoutId >= 0xFFFF) {
                throw new IllegalStateException("layout id overflow: this worker has registered the maximum of 65535"
                        + " layouts (ids are u16 and 65535 is reserved)");
            }
            LayoutHandle handle = new LayoutHandle(workerId, nextLayoutId);
            Storage storage = layout.storage();
            LayoutHandle existing = handleOfStorage.get(storage);
            if (existing != null) {
                // Two handles over one memory would let a transfer read and write the same bytes unnoticed.
                throw new IllegalArgumentException("layout " + layout + " is already registered here as " + existing
                        + "; use that handle, or unregister it first");
            }
            // Closing the layout without unregistering it first still withdraws it (before its memory is freed);
            // a closed layout cannot be registered at all.
            Lifetime.Hook hook;
            try {
                hook = storage.onClose("layout " + handle + " of worker " + Long.toUnsignedString(workerId),
                        () -> forgetLocal(handle));
            } catch (IllegalStateException e) {
                throw new IllegalStateException("cannot register " + layout + ": its storage is closed; register a"
                        + " live layout", e);
            }
            Agent.Registration registration = null;
            StorageKind kind = layout.kind();
            if (agent != null && kind.type() != StorageKind.Type.DISK) {
                try {
                    registration = agent.register(storage);
                } catch (IllegalArgumentException e) {
                    LOG.log(System.Logger.Level.INFO, "layout {0} on {1} stays local to this worker: agent {2} does"
                            + " not register it ({3})", handle, kind, agent.name(), e.getMessage());
                } catch (RuntimeException e) {
                    hook.close();
                    throw e;
                }
            }
            nextLayoutId++;
            locals.put(handle, new LocalLayout(handle, layout, registration, hook));
            handleOfStorage.put(storage, handle);
            return handle;
        }
    }

    /**
     * Forgets a local layout and withdraws its agent registration (waiting for the agent's transfers in flight on
     * it), after which its memory may be freed. This is the documented way to retire a layout that peers may use:
     * unregister, then close. Closing a registered layout directly is safe too: its storage withdraws the
     * registration before freeing (see {@link Lifetime}).
     *
     * @param handle a local layout's handle
     * @throws IllegalArgumentException when {@code handle} is not a local layout of this manager
     */
    public void unregisterLayout(LayoutHandle handle) {
        if (!forgetLocal(handle)) {
            throw new IllegalArgumentException("unknown local layout " + handle);
        }
    }

    private boolean forgetLocal(LayoutHandle handle) {
        LocalLayout local;
        synchronized (registry) {
            local = locals.remove(handle);
            if (local != null) {
                handleOfStorage.remove(local.layout.storage());
            }
        }
        if (local == null) {
            return false;
        }
        if (local.registration != null) {
            local.registration.close();
        }
        local.hook.close();
        return true;
    }

    /** {@return handles of the layouts registered here, by id} */
    public List<LayoutHandle> localHandles() {
        return locals.keySet().stream().sorted(Comparator.comparingInt(LayoutHandle::layoutId)).toList();
    }

    /** {@return handles of the layouts imported from peers} */
    public List<LayoutHandle> remoteHandles() {
        return remotes.keySet().stream()
                .sorted(Comparator.comparingLong(LayoutHandle::workerId).thenComparingInt(LayoutHandle::layoutId))
                .toList();
    }

    /**
     * What this manager knows about a layout, local or imported.
     *
     * @param handle a local or imported layout's handle
     * @return the layout, its location and agent metadata; empty when the handle is unknown
     */
    public Optional<PhysicalLayout> layout(LayoutHandle handle) {
        LocalLayout local = locals.get(handle);
        if (local != null) {
            return Optional.of(new PhysicalLayout(local.layout.layout(), local.layout.kind(),
                    NixlMetadata.of(agentName, local.layout.kind())));
        }
        return Optional.ofNullable(remotes.get(handle)).map(RemoteLayout::layout);
    }

    /**
     * This worker's address, its agent's metadata and the descriptors of its agent-registered System, Pinned and
     * Device layouts (Disk layouts are never exported), in Dynamo's wire format.
     *
     * @return the metadata peers import
     * @throws IllegalStateException when the manager has no agent
     */
    public SerializedLayout exportMetadata() {
        Agent a = requireAgent("exporting metadata");
        synchronized (registry) {
            ensureOpen();
            List<LocalLayoutDescriptor> exported = new ArrayList<>();
            for (LayoutHandle handle : localHandles()) {
                LocalLayout local = locals.get(handle);
                if (local != null && local.registration != null) {
                    exported.add(new LocalLayoutDescriptor(handle, local.layout.toDescriptor(a.name())));
                }
            }
            return SerializedLayout.pack(new WorkerAddress(workerId, a.name()), a.localMetadata(), exported);
        }
    }

    /**
     * Imports a peer's published metadata: loads its agent metadata and rebuilds each of its layouts over the
     * peer's addresses. Everything is checked before anything is kept: the encoding, each descriptor against its
     * config, that every handle belongs to the publishing worker and appears once, that each layout was registered
     * by the publishing agent, and that the agent reports the name the metadata claims.
     *
     * @param metadata a peer's exported metadata, untrusted
     * @return the imported layouts' handles, in the order published
     * @throws InvalidMetadataException when the metadata is malformed or inconsistent
     * @throws IllegalStateException    when this worker already imported a peer with that worker id or agent name,
     *                                  or has no agent
     */
    public List<LayoutHandle> importMetadata(SerializedLayout metadata) {
        Objects.requireNonNull(metadata, "metadata");
        Agent a = requireAgent("importing metadata");
        RdmaLayoutDescriptors published = metadata.unpack();
        WorkerAddress peer = published.workerAddress();
        Map<LayoutHandle, PhysicalLayout> layouts = new LinkedHashMap<>();
        for (LocalLayoutDescriptor d : published.layouts()) {
            LayoutHandle handle = d.handle();
            if (handle.workerId() != peer.workerId()) {
                throw new InvalidMetadataException(String.format(Locale.ROOT,
                        "metadata of worker %s carries %s, which belongs to another worker",
                        Long.toUnsignedString(peer.workerId()), handle));
            }
            String registeredBy = d.layout().nixlMetadata().agentName();
            if (!registeredBy.equals(peer.nixlAgentName())) {
                throw new InvalidMetadataException(String.format(Locale.ROOT,
                        "%s is registered by agent '%s' but the metadata is from agent '%s'", handle, registeredBy,
                        peer.nixlAgentName()));
            }
            if (d.layout().location().type() == StorageKind.Type.DISK) {
                throw new InvalidMetadataException(handle + " is a Disk layout; Disk layouts are not reachable by"
                        + " peers and are never exported");
            }
            PhysicalLayout layout;
            try {
                layout = Layouts.fromDescriptor(d.layout());
            } catch (InvalidMetadataException e) {
                throw new InvalidMetadataException("failed to rebuild layout " + handle + ": " + e.getMessage(), e);
            }
            if (layouts.put(handle, layout) != null) {
                throw new InvalidMetadataException("metadata lists " + handle + " twice");
            }
        }
        synchronized (registry) {
            ensureOpen();
            if (peer.workerId() == workerId) {
                throw new IllegalStateException("metadata of worker " + Long.toUnsignedString(workerId)
                        + " is this worker's own; import a peer's metadata");
            }
            // A worker id and an agent name each identify exactly one peer. Everything is checked before the
            // agent loads anything, so a rejected import changes nothing, for this peer or any other.
            if (peer.nixlAgentName().equals(a.name())) {
                throw new InvalidMetadataException(String.format(Locale.ROOT,
                        "metadata of worker %s names agent '%s', which is this worker's own agent",
                        Long.toUnsignedString(peer.workerId()), a.name()));
            }
            for (WorkerAddress known : loadedRemotes) {
                if (known.workerId() == peer.workerId()) {
                    throw new IllegalStateException(String.format(Locale.ROOT,
                            "remote worker already loaded: %s (worker_id=%s); forget it first to reload",
                            known.nixlAgentName(), Long.toUnsignedString(known.workerId())));
                }
                if (known.nixlAgentName().equals(peer.nixlAgentName())) {
                    throw new IllegalStateException(String.format(Locale.ROOT,
                            "agent '%s' is already loaded as worker %s; metadata of worker %s cannot claim it (an"
                                    + " agent belongs to one worker; forget worker %s first if it restarted under a"
                                    + " new id)", known.nixlAgentName(), Long.toUnsignedString(known.workerId()),
                            Long.toUnsignedString(peer.workerId()), Long.toUnsignedString(known.workerId())));
                }
            }
            String carried = agentMetadata(a, a::remoteAgentName, published.nixlMetadata());
            if (!carried.equals(peer.nixlAgentName())) {
                throw new InvalidMetadataException(String.format(Locale.ROOT,
                        "agent name mismatch: the metadata names '%s' but its agent metadata is from '%s'",
                        peer.nixlAgentName(), carried));
            }
            String loaded = agentMetadata(a, a::loadRemoteMetadata, published.nixlMetadata());
            if (!loaded.equals(carried)) {
                throw new IllegalStateException(String.format(Locale.ROOT,
                        "agent %s is inconsistent: remoteAgentName said '%s' but loadRemoteMetadata loaded '%s'",
                        a.name(), carried, loaded));
            }
            layouts.forEach((handle, layout) -> remotes.put(handle, new RemoteLayout(handle, layout, peer)));
            loadedRemotes.add(peer);
            departed.remove(peer.workerId());
            return List.copyOf(layouts.keySet());
        }
    }

    /** Applies {@code step} to a peer's agent blob; the agent's refusal becomes an {@link InvalidMetadataException}. */
    private static String agentMetadata(Agent a, java.util.function.Function<byte[], String> step, byte[] blob) {
        try {
            return step.apply(blob);
        } catch (IllegalArgumentException e) {
            throw new InvalidMetadataException("agent " + a.name() + " rejected the peer's agent metadata: "
                    + e.getMessage(), e);
        }
    }

    /**
     * Removes and returns the write notifications peers attached to transfers into this worker's memory
     * ({@link TransferOptions.Builder#writeNotification}), oldest first; each arrives after its data.
     *
     * @return the notifications, oldest first
     * @throws IllegalStateException when the manager was built without an agent
     */
    public List<Notification> drainNotifications() {
        return requireAgent("receiving notifications").drainNotifications();
    }

    /**
     * Forgets a peer: its layouts' handles become unknown and its agent is invalidated, so a restarted peer's
     * metadata can be imported again.
     *
     * @param remoteWorkerId the peer's worker id
     * @return whether the worker had been imported
     */
    public boolean forgetRemote(long remoteWorkerId) {
        return forgetRemote(remoteWorkerId, null);
    }

    /**
     * Forgets a peer, as {@link #forgetRemote(long)}, and remembers why: a transfer that still names one of its
     * layouts then fails at once with that reason and the worker's name (until the worker is imported again).
     *
     * @param remoteWorkerId the peer's worker id
     * @param reason         why, e.g. {@code "its discovery entry disappeared"}; null for no reason
     * @return whether the worker had been imported
     */
    public boolean forgetRemote(long remoteWorkerId, String reason) {
        synchronized (registry) {
            WorkerAddress peer = loadedRemotes.stream().filter(w -> w.workerId() == remoteWorkerId).findFirst()
                    .orElse(null);
            if (peer == null) {
                return false;
            }
            loadedRemotes.remove(peer);
            remotes.values().removeIf(r -> r.worker.equals(peer));
            if (reason != null) {
                departed.put(remoteWorkerId, "worker " + Long.toUnsignedString(remoteWorkerId) + " (agent '"
                        + peer.nixlAgentName() + "') is gone: " + reason);
            }
            if (agent != null) {
                agent.invalidateRemote(peer.nixlAgentName());
            }
            return true;
        }
    }

    /**
     * Copies every layer of {@code srcBlocks[i]} to {@code dstBlocks[i]} with the default options.
     *
     * @param src       the layout copied from, local or imported
     * @param srcBlocks block ids in {@code src}, none twice
     * @param dst       the layout copied to, local or imported
     * @param dstBlocks block ids in {@code dst}, as many as {@code srcBlocks}, none twice
     * @return completes when every byte has landed
     * @see #executeTransfer(LayoutHandle, int[], LayoutHandle, int[], TransferOptions)
     */
    public CompletableFuture<Void> executeTransfer(LayoutHandle src, int[] srcBlocks, LayoutHandle dst,
                                                   int[] dstBlocks) {
        return executeTransfer(src, srcBlocks, dst, dstBlocks, TransferOptions.DEFAULT);
    }

    /**
     * Copies every layer (or {@code options}' layer range) of {@code srcBlocks[i]} of one layout to
     * {@code dstBlocks[i]} of another. Everything is validated, and every executor or agent is found, before a
     * byte moves; the future completes when every byte has landed and fails with the cause of the first failed
     * copy (in a two-hop transfer, of either hop).
     *
     * @param src       the layout copied from, local or imported
     * @param srcBlocks block ids in {@code src}, none twice
     * @param dst       the layout copied to, local or imported
     * @param dstBlocks block ids in {@code dst}, as many as {@code srcBlocks}, none twice
     * @param options   the layer range, a bounce buffer, a write notification
     * @return completes when every byte has landed, exceptionally with the first failed copy's cause
     * @throws IllegalArgumentException  when a handle is unknown, the lists or options are inconsistent, or the
     *                                   layouts are incompatible
     * @throws IndexOutOfBoundsException when a block id or the layer range is out of range
     * @throws UnsupportedOperationException when no installed backend moves between the two kinds; the message
     *                                   names the kinds and the module that would
     * @throws IllegalStateException     when a handle belongs to a worker forgotten with a reason
     *                                   ({@link #forgetRemote(long, String)}); the message names the worker and why
     */
    public CompletableFuture<Void> executeTransfer(LayoutHandle src, int[] srcBlocks, LayoutHandle dst,
                                                   int[] dstBlocks, TransferOptions options) {
        Objects.requireNonNull(srcBlocks, "srcBlocks");
        Objects.requireNonNull(dstBlocks, "dstBlocks");
        Objects.requireNonNull(options, "options");
        ensureOpen();
        Endpoint source = endpoint(src, "source");
        Endpoint destination = endpoint(dst, "destination");
        int layerStart = options.layerStart();
        int layerEnd = options.layerEnd().orElse(source.layout().config().numLayers());
        byte[] notification = options.writeNotification().orElse(null);
        if (notification != null && destination.remote == null) {
            throw new IllegalArgumentException("a write notification is delivered with a write to a remote layout,"
                    + " but destination " + dst + " is local");
        }
        Optional<TransferOptions.BounceBuffer> bounce = options.bounceBuffer();
        if (bounce.isEmpty()) {
            // prepare plans, and so validates, the whole transfer before anything moves.
            return prepare(source, srcBlocks, destination, dstBlocks, layerStart, layerEnd, notification).get();
        }
        // The hops are planned chunk by chunk; check the source -> destination mapping as a whole first (lengths,
        // ranges, unique destinations, compatible layouts), so an error names the caller's ids, not a chunk's.
        BlockTransfers.plan(source.layout(), srcBlocks, destination.layout(), dstBlocks, layerStart, layerEnd);
        return throughBounceBuffer(source, srcBlocks, destination, dstBlocks, bounce.get(), layerStart, layerEnd,
                notification);
    }

    /** A layout as one end of a transfer: local (with storage) or remote (with the peer's agent name). */
    private record Endpoint(LayoutHandle handle, LocalLayout local, RemoteLayout remote) {
        Layout layout() {
            return local != null ? local.layout : remote.layout.layout();
        }

        StorageKind kind() {
            return local != null ? local.layout.kind() : remote.layout.location();
        }
    }

    private Endpoint endpoint(LayoutHandle handle, String role) {
        Objects.requireNonNull(handle, role);
        LocalLayout local = locals.get(handle);
        if (local != null) {
            return new Endpoint(handle, local, null);
        }
        RemoteLayout remote = remotes.get(handle);
        if (remote != null) {
            return new Endpoint(handle, null, remote);
        }
        String gone = departed.get(handle.workerId());
        if (gone != null) {
            throw new IllegalStateException("cannot use " + role + " handle " + handle + ": " + gone);
        }
        throw new IllegalArgumentException("invalid " + role + " handle " + handle
                + ": it is neither registered here nor imported from a peer");
    }

    /**
     * Validates one hop and finds what will run it; the returned supplier starts it. Nothing moves until then.
     */
    private Supplier<CompletableFuture<Void>> prepare(Endpoint src, int[] srcBlocks, Endpoint dst, int[] dstBlocks,
                                                      int layerStart, int layerEnd, byte[] notification) {
        List<RegionPair> pairs = BlockTransfers.plan(src.layout(), srcBlocks, dst.layout(), dstBlocks, layerStart,
                layerEnd);
        if (src.local != null && dst.local != null) {
            TransferBatch batch = new TransferBatch(src.local.layout.storage(), dst.local.layout.storage(), pairs);
            TransferExecutor executor = executor(src.kind(), dst.kind());
            return () -> executor.execute(batch);
        }
        if (src.remote != null && dst.remote != null) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s and %s are both remote; one end of a transfer must be local to this worker",
                    src.handle, dst.handle));
        }
        Agent a = requireAgent("a transfer to or from a remote layout");
        boolean read = src.remote != null;
        Endpoint local = read ? dst : src;
        RemoteLayout remote = read ? src.remote : dst.remote;
        if (local.local.registration == null) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "local layout %s on %s is not registered with agent %s, so it cannot be the %s of a remote %s",
                    local.handle, local.kind(), a.name(), read ? "destination" : "source", read ? "read" : "write"));
        }
        List<RegionPair> coalesced = RegionPair.coalesce(pairs);
        List<AgentDescriptor> localDescriptors = new ArrayList<>(coalesced.size());
        List<AgentDescriptor> remoteDescriptors = new ArrayList<>(coalesced.size());
        long localDevice = local.local.registration.deviceId();
        long remoteDevice = remote.layout.nixlMetadata().deviceId();
        for (RegionPair p : coalesced) {
            MemoryRegion localRegion = read ? p.destination() : p.source();
            MemoryRegion remoteRegion = read ? p.source() : p.destination();
            localDescriptors.add(new AgentDescriptor(localRegion, localDevice));
            remoteDescriptors.add(new AgentDescriptor(remoteRegion, remoteDevice));
        }
        AgentTransfer transfer = new AgentTransfer(read ? AgentTransfer.Operation.READ : AgentTransfer.Operation.WRITE,
                new DescriptorList(local.local.registration.memType(), localDescriptors),
                remote.worker.nixlAgentName(),
                new DescriptorList(remote.layout.nixlMetadata().memType(), remoteDescriptors),
                notification);
        return () -> a.post(transfer);
    }

    /**
     * Source → bounce → destination in chunks. With n ≥ 2 bounce blocks, chunks of n/2 blocks alternate between
     * the buffer's two halves: chunk k's first hop waits only for the second hop of chunk k−2 (the last user of its
     * half), so it overlaps chunk k−1's second hop. Second hops run in order, so a notification riding the last
     * one arrives after all the data.
     */
    private CompletableFuture<Void> throughBounceBuffer(Endpoint src, int[] srcBlocks, Endpoint dst,
                                                        int[] dstBlocks, TransferOptions.BounceBuffer buffer,
                                                        int layerStart, int layerEnd, byte[] notification) {
        Endpoint bounce = endpoint(buffer.handle(), "bounce buffer");
        if (bounce.local == null) {
            throw new IllegalArgumentException("bounce buffer " + buffer.handle() + " is remote; it must be a layout"
                    + " registered on this worker");
        }
        if (bounce.handle.equals(src.handle) || bounce.handle.equals(dst.handle)) {
            throw new IllegalArgumentException("bounce buffer " + buffer.handle() + " is also an end of the transfer;"
                    + " use a layout of its own");
        }
        if (srcBlocks.length == 0) {
            // Nothing to stage: the transfer is its notification alone (if any), sent as a direct transfer would.
            return prepare(src, srcBlocks, dst, dstBlocks, layerStart, layerEnd, notification).get();
        }
        int[] bounceBlocks = buffer.blocks();
        int slots = bounceBlocks.length >= 2 ? 2 : 1;
        int chunk = bounceBlocks.length / slots;
        int chunks = (srcBlocks.length + chunk - 1) / chunk;
        List<Supplier<CompletableFuture<Void>>> first = new ArrayList<>(chunks);
        List<Supplier<CompletableFuture<Void>>> second = new ArrayList<>(chunks);
        for (int k = 0; k < chunks; k++) {
            int from = k * chunk;
            int to = Math.min(srcBlocks.length, from + chunk);
            int[] via = Arrays.copyOfRange(bounceBlocks, (k % slots) * chunk, (k % slots) * chunk + (to - from));
            first.add(prepare(src, Arrays.copyOfRange(srcBlocks, from, to), bounce, via, layerStart, layerEnd, null));
            second.add(prepare(bounce, via, dst, Arrays.copyOfRange(dstBlocks, from, to), layerStart, layerEnd,
                    k == chunks - 1 ? notification : null));
        }
        List<CompletableFuture<Void>> secondDone = new ArrayList<>(chunks);
        for (int k = 0; k < chunks; k++) {
            CompletableFuture<Void> halfFree = k >= slots ? secondDone.get(k - slots)
                    : CompletableFuture.completedFuture(null);
            Supplier<CompletableFuture<Void>> toBounce = first.get(k);
            Supplier<CompletableFuture<Void>> fromBounce = second.get(k);
            CompletableFuture<Void> landed = halfFree.thenCompose(v -> toBounce.get());
            CompletableFuture<Void> previous = k > 0 ? secondDone.get(k - 1) : CompletableFuture.completedFuture(null);
            secondDone.add(CompletableFuture.allOf(landed, previous).thenCompose(v -> fromBounce.get()));
        }
        return secondDone.getLast();
    }

    private TransferExecutor executor(StorageKind source, StorageKind destination) {
        TransferExecutorProvider provider = backends.findExecutorProvider(source, destination)
                .orElseThrow(() -> new UnsupportedOperationException(Strategies.noExecutor(source, destination)));
        synchronized (executors) {
            ensureOpen();
            return executors.computeIfAbsent(provider.name(), n -> provider.create());
        }
    }

    private Agent requireAgent(String what) {
        if (agent == null) {
            throw new IllegalStateException(Strategies.noAgent(what));
        }
        return agent;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("TransportManager of worker " + Long.toUnsignedString(workerId)
                    + " is closed");
        }
    }

    /**
     * Closes the executors (after the batches they were given), withdraws every agent registration and closes the
     * agent, failing its pending transfers. Idempotent.
     */
    @Override
    public void close() {
        synchronized (registry) {
            if (closed) {
                return;
            }
            closed = true;
        }
        synchronized (executors) {
            executors.values().forEach(TransferExecutor::close);
            executors.clear();
        }
        for (LayoutHandle handle : List.copyOf(locals.keySet())) {
            forgetLocal(handle);
        }
        remotes.clear();
        if (agent != null) {
            agent.close();
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "TransportManager[worker %s, agent %s, %d local, %d remote layouts]",
                Long.toUnsignedString(workerId), agent == null ? "none" : agent.name(), locals.size(),
                remotes.size());
    }

    /** Configures a {@link TransportManager}; not thread-safe. */
    public static final class Builder {
        private Long workerId;
        private String agentName;
        private Backends backends;
        private String agentProvider;
        private boolean withoutAgent;
        private AgentProvider.Options agentOptions = AgentProvider.Options.DEFAULT;

        private Builder() {
        }

        /**
         * Sets {@code workerId}.
         *
         * @param workerId this worker's id (required)
         * @return this builder
         */
        public Builder workerId(long workerId) {
            this.workerId = workerId;
            return this;
        }

        /**
         * Sets {@code agentName}.
         *
         * @param agentName the agent's name; default {@code "worker-" + workerId}
         * @return this builder
         */
        public Builder agentName(String agentName) {
            this.agentName = Objects.requireNonNull(agentName, "agentName");
            return this;
        }

        /**
         * Sets {@code backends}.
         *
         * @param backends the providers to use; default {@link Backends#shared()}, discovered once per JVM
         * @return this builder
         */
        public Builder backends(Backends backends) {
            this.backends = Objects.requireNonNull(backends, "backends");
            return this;
        }

        /**
         * Which agent provider to use, by name (e.g. {@code "ucx"} or {@code "local"}); default: the first available
         * one that reaches other processes ({@code ucx} when kvbm-backend-nixl is installed and UCX loads), else the
         * in-process {@code local} agent.
         *
         * @param name the agent provider's name
         * @return this builder
         */
        public Builder agentProvider(String name) {
            this.agentProvider = Objects.requireNonNull(name, "name");
            this.withoutAgent = false;
            return this;
        }

        /**
         * A worker with no agent: it copies between its own layouts only, and cannot export, import or reach a
         * peer. Without this, {@link #build()} fails when no agent provider is available, naming why.
         *
         * @return this builder
         */
        public Builder withoutAgent() {
            this.withoutAgent = true;
            this.agentProvider = null;
            return this;
        }

        /**
         * Settings for the agent, such as the peer timeout.
         *
         * @param options the agent's settings
         * @return this builder
         */
        public Builder agentOptions(AgentProvider.Options options) {
            this.agentOptions = Objects.requireNonNull(options, "options");
            return this;
        }

        /**
         * Shorthand for agent options with this peer timeout and no other settings.
         *
         * @param timeout how long a transfer may wait on a silent peer
         * @return this builder
         */
        public Builder peerTimeout(Duration timeout) {
            this.agentOptions = new AgentProvider.Options(timeout, agentOptions.properties());
            return this;
        }

        /**
         * Creates the manager and its agent.
         *
         * @return the manager; the caller closes it
         * @throws IllegalStateException         when no worker id was set, or no agent provider is available and
         *                                       {@link #withoutAgent()} was not chosen; the message gives each
         *                                       provider's cause (such as the missing native-access flag)
         * @throws UnsupportedOperationException when the named agent provider is not available
         */
        public TransportManager build() {
            if (workerId == null) {
                throw new IllegalStateException("TransportManager.builder() needs workerId(id)");
            }
            Backends b = backends != null ? backends : Backends.shared();
            String name = agentName != null ? agentName : "worker-" + Long.toUnsignedString(workerId);
            AgentProvider provider = null;
            if (agentProvider != null) {
                provider = b.agentProvider(agentProvider);
            } else if (!withoutAgent) {
                provider = b.agentProviders().stream().filter(AgentProvider::isAvailable)
                        .min(Comparator.comparing((AgentProvider p) -> !p.reachesOtherProcesses()))
                        .orElseThrow(() -> new IllegalStateException(Strategies.noAgentAtBuild(b.agentProviders())));
            }
            Agent agent = provider == null ? null : provider.create(name, agentOptions);
            return new TransportManager(workerId, name, b, agent, provider == null ? null : provider.name());
        }
    }
}
