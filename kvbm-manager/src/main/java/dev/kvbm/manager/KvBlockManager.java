package dev.kvbm.manager;

import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.layout.LayoutBuilder;
import dev.kvbm.layout.Layouts;
import dev.kvbm.layout.OwnedLayout;
import dev.kvbm.layout.PhysicalLayout;
import dev.kvbm.transport.LayoutHandle;
import dev.kvbm.transport.SerializedLayout;
import dev.kvbm.transport.TransferOptions;
import dev.kvbm.transport.TransportManager;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What an inference engine calls: a pool of KV blocks per tier — G1 (GPU memory when a GPU backend is available,
 * otherwise host memory), G2 (host memory), G3 (disk) — with prefix reuse across all of them.
 *
 * <p>A request {@link #allocate}s G1 blocks, writes its KV into them (at {@link #layout(Tier)}'s addresses for the
 * block ids), completes them with its tokens and {@link #register}s them. Registered G1 blocks are copied to G2 in
 * the background (a priority queue; a bounded number of batches in flight); a registered block evicted from a tier
 * is first written to the next tier down, unless it is there already. The next request {@link #match}es its
 * sequence hashes against every tier and {@link #onboard}s what was found below G1: an onboarded block is
 * registered in G1 and handed back only after its bytes landed, and a block whose copy failed is reported, never
 * served. G1↔G3 copies go through a host bounce buffer when no backend copies between the two directly (a GPU
 * without GPUDirect Storage).
 *
 * <p>It owns a {@link TransportManager} (every tier's layout is registered there, and exported to peers with
 * {@link #exportBlockSets()}), the tiers' memory, and one thread for offloads. Thread-safe. Build with
 * {@link #builder()}, or from a JSON or YAML file with {@link Builder#config(Path)}.
 */
public final class KvBlockManager implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(KvBlockManager.class.getName());

    /**
     * One tier: its pool, memory, and handle with the transport; {@code states}, the block-state table peers read
     * (null for Disk, and without an agent).
     */
    record TierState(Tier tier, BlockPool pool, OwnedLayout layout, LayoutHandle handle, long blockBytes,
                     OwnedLayout states, String provider) {
        StorageKind kind() {
            return layout.kind();
        }

        /** Frees the tier's memory (after the transport let go of it). */
        void close() {
            layout.close();
            if (states != null) {
                states.close();
            }
        }
    }

    /** Per-block outcome of a copy between tiers: {@code causes[i] == null} when block i landed. */
    record CopyOutcome(Throwable[] causes) {
        boolean landed(int i) {
            return causes[i] == null;
        }
    }

    private final ModelShape shape;
    private final Backends backends;
    private final TransportManager transport;
    private final Map<Tier, TierState> tiers;
    private final OwnedLayout bounceLayout; // null unless some pair of tiers needs one
    private final LayoutHandle bounceHandle;
    private final int[] bounceBlocks;
    /**
     * Where a verified pull lands the peer's block states: records {@code 2b} and {@code 2b + 1}, before and after,
     * for G1 block {@code b} (the pull holds that block alone); null without an agent.
     */
    private final OwnedLayout pullScratch;
    private final LayoutHandle pullScratchHandle;
    /** Imported block sets -> the peer's block-state table for each (absent: a peer that exports none). */
    private final Map<LayoutHandle, LayoutHandle> remoteStates = new java.util.concurrent.ConcurrentHashMap<>();
    private final Offloader offloader; // null without G2
    private final dev.kvbm.manager.events.KvEventSink eventSink; // null unless configured
    private final dev.kvbm.manager.events.KvEventPublisher eventPublisher; // G1's events, null unless configured
    private final ManagerMetrics metrics;
    private final ExecutorService callbacks;
    private final Set<CompletableFuture<?>> inFlight = Collections.newSetFromMap(new IdentityHashMap<>());
    private CompletableFuture<Void> bounceTail = CompletableFuture.completedFuture(null); // guarded by this
    private volatile boolean closed;

    private KvBlockManager(Builder b) {
        this.shape = Objects.requireNonNull(b.shape, "the model shape is required: builder.model(...)");
        if (b.specs.get(Tier.G1) == null) {
            throw new IllegalArgumentException("tier G1 is required: builder.tier(Tier.G1, TierSpec.blocks(n))");
        }
        if (b.agentName == null && !b.agentOptions.equals(dev.kvbm.api.spi.AgentProvider.Options.DEFAULT)) {
            throw new IllegalArgumentException("agent options were given to a manager built without an agent: name"
                    + " an agent (builder.agent(\"ucx\")) or leave the options out");
        }
        this.backends = b.backends != null ? b.backends : Backends.shared();
        TransportManager.Builder tb = TransportManager.builder().workerId(b.workerId).backends(backends)
                .agentOptions(b.agentOptions);
        if (b.agentName == null) {
            tb.withoutAgent();
        } else if (!b.agentName.isEmpty()) {
            tb.agentProvider(b.agentName);
        }
        this.transport = tb.build();
        Map<Tier, TierState> built = new EnumMap<>(Tier.class);
        OwnedLayout bounce = null;
        LayoutHandle bounceH = null;
        OwnedLayout scratch = null;
        LayoutHandle scratchH = null;
        dev.kvbm.manager.events.KvEventSink sink = null;
        dev.kvbm.manager.events.KvEventPublisher publisher = null;
        try {
            for (Tier t : Tier.values()) {
                TierSpec spec = b.specs.get(t);
                if (spec != null) {
                    built.put(t, buildTier(t, spec, b.duplicates));
                }
            }
            if (transport.agent().isPresent()) {
                scratch = allocateStates(2 * built.get(Tier.G1).pool.stats().total());
                scratchH = transport.registerLayout(scratch);
            }
            if (needsBounce(built)) {
                StorageKind kind = hostKind();
                int blocks = 2 * b.batchSize;
                bounce = Layouts.builder(shape.layoutConfig(blocks)).fullyContiguous()
                        .allocate(backends.storageProvider(kind), kind);
                bounceH = transport.registerLayout(bounce);
            }
            if (b.eventSink != null) { // last of what can be refused: nothing is left behind when it is
                sink = dev.kvbm.manager.events.KvEventSinkProvider.named(b.eventSink).open(b.eventSettings);
                publisher = new dev.kvbm.manager.events.KvEventPublisher(b.workerId, built.get(Tier.G1).pool,
                        sink, b.eventHeartbeat);
            }
        } catch (RuntimeException | Error e) {
            closeQuietly(publisher, e);
            closeQuietly(sink, e);
            closeQuietly(transport, e);
            for (TierState s : built.values()) {
                closeQuietly(s.pool, e);
                closeQuietly(s::close, e);
            }
            closeQuietly(bounce, e);
            closeQuietly(scratch, e);
            throw e;
        }
        this.tiers = built;
        this.bounceLayout = bounce;
        this.bounceHandle = bounceH;
        this.pullScratch = scratch;
        this.pullScratchHandle = scratchH;
        this.eventSink = sink;
        this.eventPublisher = publisher;
        this.bounceBlocks = bounce == null ? new int[0] : java.util.stream.IntStream.range(0, 2 * b.batchSize).toArray();
        Map<Tier, BlockPool> pools = new EnumMap<>(Tier.class);
        built.forEach((t, s) -> pools.put(t, s.pool));
        this.metrics = new ManagerMetrics(pools);
        this.callbacks = Executors.newCachedThreadPool(r -> {
            Thread th = new Thread(r, "kvbm-manager-callbacks");
            th.setDaemon(true);
            return th;
        });
        for (TierState s : built.values()) {
            next(s.tier).ifPresent(lower -> s.pool.onEviction(evicted -> writeBack(s, lower, evicted)));
        }
        this.offloader = built.containsKey(Tier.G2)
                ? new Offloader(this, built.get(Tier.G1), built.get(Tier.G2), b.maxInFlight, b.batchSize)
                : null;
        LOG.log(System.Logger.Level.INFO, () -> "KV block manager of worker " + Long.toUnsignedString(b.workerId)
                + ": " + shape + ", tiers " + describeTiers() + "; agent " + transport.agentProvider()
                .map(p -> p + " (named " + transport.agentName() + ")").orElse("none"));
    }

    /** Closes what a refused build had made, keeping the first failure as the one thrown. */
    private static void closeQuietly(AutoCloseable c, Throwable first) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception | Error e) {
            first.addSuppressed(e);
        }
    }

    /**
     * {@return the publisher of G1's KV events, when the builder or configuration chose a sink} Its events are what
     * a KV-aware router ({@link dev.kvbm.manager.events.KvIndexer}) follows.
     */
    public Optional<dev.kvbm.manager.events.KvEventPublisher> events() {
        return Optional.ofNullable(eventPublisher);
    }

    private TierState buildTier(Tier t, TierSpec spec, BlockPool.Duplicates duplicates) {
        int blocks = spec.blockCount(t, shape);
        StorageKind kind = spec.storage().orElseGet(() -> defaultKind(t));
        StorageProvider provider = provider(t.name(), kind, spec.provider());
        if (spec.directory().isPresent()) {
            provider = provider.inDirectory(spec.directory().get());
        }
        LayoutBuilder lb = Layouts.builder(shape.layoutConfig(blocks));
        if (spec.layout() == TierSpec.LayoutType.LAYER_SEPARATE) {
            lb.layerSeparate(spec.blockDimension());
        } else {
            lb.fullyContiguous();
        }
        OwnedLayout layout = lb.allocate(provider, kind);
        OwnedLayout states = null;
        try {
            LayoutHandle handle = transport.registerLayout(layout);
            BlockPool pool = BlockPool.create(t.name(), blocks, shape.pageSize(), duplicates);
            if (transport.agent().isPresent() && kind.type() != StorageKind.Type.DISK) {
                // Peers may read this tier's blocks; its state table goes right after it, where they look for it.
                states = allocateStates(blocks);
                transport.registerLayout(states);
                pool.trackStates(new BlockStates(states));
            }
            return new TierState(t, pool, layout, handle, shape.blockBytes(), states, provider.name());
        } catch (RuntimeException e) {
            layout.close();
            if (states != null) {
                states.close();
            }
            throw e;
        }
    }

    private OwnedLayout allocateStates(int records) {
        StorageKind kind = hostKind();
        return Layouts.builder(BlockStates.config(records)).fullyContiguous()
                .allocate(provider("block states", kind, Optional.empty()), kind);
    }

    /**
     * The allocator for host memory that an engine owns (its own G1 on the host, say) and that peer processes on this
     * host should pull from at the transport's speed: kvbm-backend-nixl's {@value #PEER_MAPPED_HOST_MEMORY} storage
     * when it is available (UCX allocates it, so a same-host peer maps the pages instead of copying them across
     * processes), else the first provider of {@link StorageKind#SYSTEM} memory. Register what it allocates with the
     * transport as any other layout.
     *
     * @param backends the providers, e.g. {@link Backends#shared()}
     * @return the provider to allocate from
     */
    public static StorageProvider hostMemoryForPeers(Backends backends) {
        Objects.requireNonNull(backends, "backends");
        return peerMapped(backends).filter(StorageProvider::isAvailable)
                .orElseGet(() -> backends.storageProvider(StorageKind.SYSTEM));
    }

    /** {@return the installed {@value #PEER_MAPPED_HOST_MEMORY} provider, available or not} */
    private static Optional<StorageProvider> peerMapped(Backends backends) {
        return backends.storageProviders().stream().filter(p -> p.name().equals(PEER_MAPPED_HOST_MEMORY)
                && p.supports(StorageKind.SYSTEM)).findFirst();
    }

    /** The name of the host memory a peer process on this host maps rather than copies (kvbm-backend-nixl's). */
    static final String PEER_MAPPED_HOST_MEMORY = "ucx-host";

    /**
     * The storage provider of a tier (or of its block states): the one the spec names; else, for host memory of a
     * manager on the {@code ucx} agent, {@value #PEER_MAPPED_HOST_MEMORY} when it is available (a peer process on
     * this host then maps the memory through UCX's shared-memory transports instead of copying it across processes:
     * see docs/performance.md); else the first provider of the kind.
     */
    private StorageProvider provider(String what, StorageKind kind, Optional<String> named) {
        if (named.isPresent()) {
            StorageProvider p = backends.storageProviders().stream().filter(x -> x.name().equals(named.get()))
                    .findFirst().orElseThrow(() -> new IllegalArgumentException(what + ": no storage provider named '"
                            + named.get() + "'; installed: " + backends.storageProviders().stream()
                            .map(StorageProvider::name).toList()));
            if (!p.supports(kind)) {
                throw new IllegalArgumentException(what + ": storage provider '" + p.name() + "' does not supply "
                        + kind + " storage");
            }
            p.ensureAvailable();
            return p;
        }
        if (kind.type() == StorageKind.Type.SYSTEM && transport.agentProvider().filter("ucx"::equals).isPresent()) {
            Optional<StorageProvider> mapped = peerMapped(backends);
            if (mapped.isPresent() && mapped.get().isAvailable()) {
                return mapped.get();
            }
            LOG.log(System.Logger.Level.INFO, () -> what + ": host memory from " + backends.storageProvider(kind)
                    .name() + ", which peer processes on this host copy rather than map: " + mapped.map(p ->
                    PEER_MAPPED_HOST_MEMORY + " is unavailable (" + p.unavailabilityCause().map(Throwable::getMessage)
                            .orElse("?") + ")").orElse(PEER_MAPPED_HOST_MEMORY + " (kvbm-backend-nixl) is not installed"));
        }
        return backends.storageProvider(kind);
    }

    private StorageKind defaultKind(Tier t) {
        return switch (t) {
            case G1 -> canAllocate(StorageKind.device(0)) ? StorageKind.device(0) : hostKind();
            case G2 -> hostKind();
            case G3 -> StorageKind.disk(0);
        };
    }

    private StorageKind hostKind() {
        return canAllocate(StorageKind.PINNED) ? StorageKind.PINNED : StorageKind.SYSTEM;
    }

    private boolean canAllocate(StorageKind kind) {
        return backends.storageProviders().stream().anyMatch(p -> p.isAvailable() && p.supports(kind));
    }

    private boolean needsBounce(Map<Tier, TierState> built) {
        for (TierState a : built.values()) {
            for (TierState b : built.values()) {
                if (a != b && directExecutorMissing(a, b)) {
                    return true;
                }
            }
        }
        return false;
    }

    private boolean directExecutorMissing(TierState from, TierState to) {
        return backends.findExecutorProvider(from.kind(), to.kind()).isEmpty();
    }

    private String describeTiers() {
        StringBuilder sb = new StringBuilder();
        for (TierState s : tiers.values()) {
            sb.append(String.format(Locale.ROOT, "%s=%d blocks on %s from %s (%s)%s", s.tier,
                    s.layout.config().numBlocks(), s.kind(), s.provider,
                    s.layout.isFullyContiguous() ? "FullyContiguous" : "LayerSeparate",
                    s.tier == Tier.G3 ? "" : ", "));
        }
        return sb + (bounceLayout != null ? "; bounce buffer of " + bounceBlocks.length + " blocks on "
                + bounceLayout.kind() : "");
    }

    /** {@return a builder; the model shape and tier G1 are required} */
    public static Builder builder() {
        return new Builder();
    }

    // ---------------------------------------------------------------- what the engine calls

    /**
     * Hands out {@code n} empty G1 blocks (free ones first, then evicted inactive ones, each written to the next
     * tier first if it is not there yet).
     *
     * @param n blocks wanted
     * @return the blocks; write their KV at their ids in {@link #layout(Tier) layout(G1)}
     * @throws NotEnoughBlocksException when G1 has fewer free or evictable blocks
     */
    public List<MutableBlock> allocate(int n) {
        ensureOpen();
        return first().pool.allocate(n);
    }

    /**
     * Registers complete G1 blocks and queues them for offload to G2 at the default priority (0).
     *
     * @param blocks complete blocks from {@link #allocate}; their handles are consumed
     * @return the shared blocks, in order
     */
    public List<ImmutableBlock> register(List<MutableBlock> blocks) {
        return register(blocks, 0);
    }

    /**
     * Registers complete G1 blocks and queues them for offload to G2; higher {@code offloadPriority} is offloaded
     * first, equal priorities in order of registration.
     *
     * @param blocks          complete blocks from {@link #allocate}; their handles are consumed
     * @param offloadPriority the offload queue's priority
     * @return the shared blocks, in order
     */
    public List<ImmutableBlock> register(List<MutableBlock> blocks, int offloadPriority) {
        ensureOpen();
        List<ImmutableBlock> registered = first().pool.register(blocks);
        if (offloader != null) {
            offloader.enqueue(registered, offloadPriority);
        }
        return registered;
    }

    /**
     * The longest prefix of {@code sequenceHashes} held in any tier: each hash is looked up in G1, then G2, then
     * G3, and the match stops at the first hash no tier has. Inactive blocks are revived.
     *
     * @param sequenceHashes a request's sequence hashes, in order
     * @return the matched blocks, held until the match is closed
     */
    public PrefixMatch match(long[] sequenceHashes) {
        Objects.requireNonNull(sequenceHashes, "sequenceHashes");
        ensureOpen();
        List<ImmutableBlock> out = new ArrayList<>();
        int[] perTier = new int[Tier.values().length];
        int pos = 0;
        outer:
        while (pos < sequenceHashes.length) {
            for (TierState s : tiers.values()) {
                List<ImmutableBlock> run = s.pool.match(sequenceHashes, pos);
                if (!run.isEmpty()) {
                    out.addAll(run);
                    perTier[s.tier.ordinal()] += run.size();
                    pos += run.size();
                    continue outer;
                }
            }
            break;
        }
        metrics.matched(sequenceHashes.length, perTier);
        for (TierState s : tiers.values()) {
            s.pool.countMatch(perTier[s.tier.ordinal()], s.tier == Tier.G1 ? sequenceHashes.length - pos : 0);
        }
        return new PrefixMatch(out);
    }

    /**
     * Brings blocks up to G1. Blocks already in G1 are shared as they are; each other block gets a G1 block, its
     * bytes are copied from its tier (G3 through the bounce buffer when needed), and only then is it registered in
     * G1. A failed copy fails only the blocks it carried: they are freed, reported in
     * {@link OnboardResult#failures()}, and never matchable in G1. The given handles stay the caller's.
     *
     * @param blocks blocks of this manager's tiers, e.g. {@link PrefixMatch#blocks()}
     * @return completes when every copy has ended (never exceptionally for a failed copy); dependent stages run
     *         on the manager's callback threads
     * @throws NotEnoughBlocksException when G1 cannot give a block to every block not yet there; nothing is taken
     * @throws IllegalArgumentException when a block is not from this manager or was released
     */
    public CompletableFuture<OnboardResult> onboard(List<ImmutableBlock> blocks) {
        Objects.requireNonNull(blocks, "blocks");
        ensureOpen();
        TierState g1 = first();
        int n = blocks.size();
        ImmutableBlock[] sources = new ImmutableBlock[n];
        ImmutableBlock[] ready = new ImmutableBlock[n];
        List<MutableBlock> targets = List.of();
        try {
            for (int i = 0; i < n; i++) {
                ImmutableBlock b = Objects.requireNonNull(blocks.get(i), "a block in the list");
                tierOf(b, "onboard");
                if (b.isClosed()) {
                    throw new IllegalArgumentException("onboard: block " + i + " of the list (" + b + ") was"
                            + " released; onboard blocks the caller still holds, e.g. an open PrefixMatch's");
                }
                sources[i] = b.share(); // ours until the copy is done, whatever the caller does with its handle
            }
            int missing = 0;
            for (int i = 0; i < n; i++) {
                ImmutableBlock present = sources[i].pool() == g1.pool ? sources[i].share()
                        : g1.pool.acquireRegistered(sources[i].sequenceHash());
                if (present != null) {
                    ready[i] = present;
                } else {
                    missing++;
                }
            }
            targets = g1.pool.allocate(missing);
        } catch (RuntimeException e) {
            closeAll(Arrays.asList(sources));
            closeAll(Arrays.asList(ready));
            throw e;
        }
        // Group the missing blocks by the tier they come from: one copy (and its failure) per tier.
        Map<TierState, List<Integer>> byTier = new java.util.LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            if (ready[i] == null) {
                byTier.computeIfAbsent(tierOf(sources[i], "onboard"), k -> new ArrayList<>()).add(i);
            }
        }
        MutableBlock[] target = new MutableBlock[n];
        int k = 0;
        for (List<Integer> idx : byTier.values()) {
            for (int i : idx) {
                target[i] = targets.get(k++);
            }
        }
        Throwable[] failures = new Throwable[n];
        List<CompletableFuture<Void>> copies = new ArrayList<>();
        for (Map.Entry<TierState, List<Integer>> e : byTier.entrySet()) {
            TierState from = e.getKey();
            List<Integer> idx = e.getValue();
            int[] src = idx.stream().mapToInt(i -> sources[i].blockId()).toArray();
            int[] dst = idx.stream().mapToInt(i -> target[i].blockId()).toArray();
            copies.add(copy(from, src, g1, dst).thenAccept(outcome -> {
                List<MutableBlock> landed = new ArrayList<>();
                List<Integer> landedIdx = new ArrayList<>();
                for (int j = 0; j < idx.size(); j++) {
                    int i = idx.get(j);
                    if (outcome.landed(j)) {
                        target[i].fill(sources[i].meta());
                        landed.add(target[i]);
                        landedIdx.add(i);
                    } else {
                        failures[i] = outcome.causes()[j];
                        target[i].close(); // freed: its partial bytes are never matched
                    }
                }
                List<ImmutableBlock> registered = g1.pool.register(landed);
                for (int j = 0; j < registered.size(); j++) {
                    ready[landedIdx.get(j)] = registered.get(j);
                }
                if (offloader != null) {
                    offloader.enqueue(registered, 0);
                }
            }));
        }
        CompletableFuture<OnboardResult> result = CompletableFuture.allOf(copies.toArray(CompletableFuture[]::new))
                .handle((v, err) -> {
                    closeAll(Arrays.asList(sources));
                    if (err != null) { // a bug, not a failed copy: release everything and say so
                        closeAll(Arrays.asList(ready));
                        for (MutableBlock m : target) {
                            if (m != null) {
                                m.close();
                            }
                        }
                        throw new CompletionException(unwrap(err));
                    }
                    List<ImmutableBlock> onboarded = new ArrayList<>();
                    List<Integer> indices = new ArrayList<>();
                    List<OnboardResult.Failure> failed = new ArrayList<>();
                    for (int i = 0; i < n; i++) {
                        if (failures[i] != null) {
                            failed.add(new OnboardResult.Failure(i, sources[i].sequenceHash(),
                                    Tier.valueOf(sources[i].tier()), failures[i]));
                        } else {
                            onboarded.add(ready[i]);
                            indices.add(i);
                        }
                    }
                    return new OnboardResult(onboarded, indices, failed);
                });
        return track(result);
    }

    // ---------------------------------------------------------------- other workers

    /** {@return this worker's block sets (every tier layout the agent registered), for peers to import} */
    public SerializedLayout exportBlockSets() {
        ensureOpen();
        return transport.exportMetadata();
    }

    /**
     * Imports another worker's block sets (what its {@link #exportBlockSets()} returned), so its blocks can be
     * pulled. Metadata from another process is validated before use.
     *
     * <p>A kvbm-java worker exports, right after each block set peers can read, the table of its block states (16
     * bytes a block: a FullyContiguous layout of 1 layer, 1 outer index and a page of 1 token of 2 elements of 8
     * bytes, with as many blocks as the set). Such tables are not block sets: they are left out of the returned list and
     * kept for {@link #pull(RemoteBlocks, TokenBlockSequence, int)}. A peer that exports none (Dynamo, or a worker
     * without an agent) can still be pulled from with {@link #pull(RemoteBlocks)}.
     *
     * @param metadata the peer's export
     * @return handles of the imported block sets, in the peer's order
     */
    public List<LayoutHandle> importBlockSets(SerializedLayout metadata) {
        ensureOpen();
        List<LayoutHandle> all = transport.importMetadata(metadata);
        List<LayoutConfig> configs = new ArrayList<>(all.size());
        for (LayoutHandle h : all) {
            configs.add(transport.layout(h).orElseThrow().layout().config());
        }
        List<LayoutHandle> sets = new ArrayList<>(all.size());
        for (int i = 0; i < all.size(); i++) {
            LayoutHandle h = all.get(i);
            remoteStates.remove(h); // a peer that exported it before
            if (BlockStates.isStateTable(configs.get(i))) {
                continue;
            }
            sets.add(h);
            if (i + 1 < all.size() && BlockStates.isStateTable(configs.get(i + 1))
                    && configs.get(i + 1).numBlocks() == configs.get(i).numBlocks()) {
                remoteStates.put(h, all.get(i + 1));
            }
        }
        return sets;
    }

    /**
     * Names blocks of an imported block set, checking the ids against it.
     *
     * @param blockSet a handle from {@link #importBlockSets}
     * @param blockIds block ids in that set
     * @return the descriptor
     * @throws IllegalArgumentException  when the block set was not imported
     * @throws IndexOutOfBoundsException when an id is beyond the set
     */
    public RemoteBlocks remoteBlocks(LayoutHandle blockSet, int... blockIds) {
        RemoteBlocks r = new RemoteBlocks(blockSet, blockIds);
        PhysicalLayout layout = transport.layout(blockSet).orElseThrow(() -> new IllegalArgumentException(
                "block set " + blockSet + " is not imported on worker " + Long.toUnsignedString(transport.workerId())
                        + "; import the peer's exportBlockSets() first"));
        int count = layout.layout().config().numBlocks();
        for (int id : blockIds) {
            if (id >= count) {
                throw new IndexOutOfBoundsException(String.format(Locale.ROOT,
                        "block id %d is beyond block set %s of %d blocks", id, blockSet, count));
            }
        }
        return r;
    }

    /**
     * Copies another worker's blocks into new G1 blocks through the transport's agent, as they are. The returned
     * blocks hold the peer's bytes; the caller completes them with their tokens and registers them.
     *
     * <p>Nothing checks that the peer's blocks still hold what the caller thinks: use this only while the peer
     * holds them (as a prefill worker holds a request's blocks until the decode worker has pulled them). To read
     * blocks a peer may evict meanwhile, use {@link #pull(RemoteBlocks, TokenBlockSequence, int)}.
     *
     * @param remote the blocks to pull
     * @return the G1 blocks, in the order of {@code remote}'s ids; on failure they are freed and the future fails
     *         with the copy's cause
     * @throws NotEnoughBlocksException when G1 has too few blocks
     */
    public CompletableFuture<List<MutableBlock>> pull(RemoteBlocks remote) {
        Objects.requireNonNull(remote, "remote");
        ensureOpen();
        TierState g1 = first();
        List<MutableBlock> blocks = g1.pool.allocate(remote.blockIds().length);
        int[] dst = blocks.stream().mapToInt(MutableBlock::blockId).toArray();
        CompletableFuture<Void> copy;
        try {
            copy = transport.executeTransfer(remote.blockSet(), remote.blockIds(), g1.handle, dst);
        } catch (RuntimeException e) {
            closeAll(blocks);
            throw e;
        }
        return track(copy.handle((v, err) -> {
            if (err != null) {
                closeAll(blocks);
                metrics.pullFailed(blocks.size());
                throw new CompletionException(unwrap(err));
            }
            metrics.pulled(blocks.size(), blocks.size() * g1.blockBytes);
            return blocks;
        }));
    }

    /**
     * Copies another worker's blocks into G1 and registers them, keeping only blocks whose bytes are, as read, the
     * KV of the sequence hashes the caller names: the peer may evict or replace them at any time, without being
     * asked. Each block's state at the peer is read before and after its bytes (a seqlock the peer's pool keeps;
     * see {@link #importBlockSets}); a block the peer did not hold under the expected hash throughout is freed and
     * reported, never registered, so the engine recomputes it. This is what makes a peer's memory safe to read
     * from a directory or a KV index that may be out of date.
     *
     * @param remote     the peer's blocks, from a block set whose states the peer exported
     * @param sequence   the request's tokens
     * @param firstBlock the index in {@code sequence} of the block {@code remote}'s first id should hold; id
     *                   {@code i} should hold block {@code firstBlock + i}
     * @return completes when every copy has ended, never exceptionally for a failed copy or a changed block; a
     *         failed copy fails every block it carried. Dependent stages run on the manager's callback threads
     * @throws IllegalArgumentException  when the peer exported no block states for that block set (it is not a
     *                                   kvbm-java worker, or was not imported)
     * @throws IndexOutOfBoundsException when {@code sequence} has no complete block for some id
     * @throws NotEnoughBlocksException  when G1 has too few blocks
     */
    public CompletableFuture<PullResult> pull(RemoteBlocks remote, TokenBlockSequence sequence, int firstBlock) {
        Objects.requireNonNull(remote, "remote");
        Objects.requireNonNull(sequence, "sequence");
        ensureOpen();
        LayoutHandle states = remoteStates.get(remote.blockSet());
        if (states == null) {
            Optional<PhysicalLayout> set = transport.layout(remote.blockSet());
            if (set.isPresent() && BlockStates.isStateTable(set.get().layout().config())) {
                throw new IllegalArgumentException(remote.blockSet() + " is a block-state table, not a block set;"
                        + " pull from a handle importBlockSets returned");
            }
            throw new IllegalArgumentException("worker " + Long.toUnsignedString(remote.workerId()) + " exported no"
                    + " block states for block set " + remote.blockSet() + " (" + (set.isPresent()
                    ? "it is not a kvbm-java worker with an agent" : "it is not imported") + "); pull"
                    + " with pull(remote) only while the peer holds the blocks");
        }
        int[] src = remote.blockIds();
        remoteBlocks(remote.blockSet(), src); // ids beyond the set: refused here, not reported as failed copies
        int n = src.length;
        long[] hashes = sequence.sequenceHashes();
        if (firstBlock < 0 || firstBlock > hashes.length - n) {
            throw new IndexOutOfBoundsException(String.format(Locale.ROOT,
                    "blocks %d to %d of a sequence of %d complete blocks", firstBlock, firstBlock + n - 1,
                    hashes.length));
        }
        if (n == 0) {
            return track(CompletableFuture.completedFuture(new PullResult(List.of(), List.of(), List.of())));
        }
        TierState g1 = first();
        List<MutableBlock> blocks = g1.pool.allocate(n);
        Throwable[] causes = new Throwable[n];
        long[][] before = new long[n][];
        MemorySegment records = BlockStates.records(pullScratch, 0, pullScratch.config().numBlocks());
        // Record 2b of the scratch table receives block b's state before its bytes, 2b + 1 after.
        CompletableFuture<Void> done = readStates(states, src, blocks, 0).thenCompose(v -> {
            for (int i = 0; i < n; i++) {
                before[i] = BlockStates.read(records, 2 * blocks.get(i).blockId());
                String why = BlockStates.whyNot(hashes[firstBlock + i], before[i], null);
                if (why != null) {
                    causes[i] = new RemoteBlockChangedException(remote.blockSet(), src[i], why);
                }
            }
            int[] still = stillWanted(causes);
            if (still.length == 0) {
                return CompletableFuture.completedFuture(null);
            }
            int[] from = pick(src, still);
            int[] to = pick(blocks.stream().mapToInt(MutableBlock::blockId).toArray(), still);
            return transferOrFail(remote.blockSet(), from, g1.handle, to)
                    .thenCompose(x -> readStates(states, from, pick(blocks, still), 1))
                    .thenAccept(x -> {
                        for (int i : still) {
                            long[] after = BlockStates.read(records, 2 * blocks.get(i).blockId() + 1);
                            String why = BlockStates.whyNot(hashes[firstBlock + i], before[i], after);
                            if (why != null) {
                                causes[i] = new RemoteBlockChangedException(remote.blockSet(), src[i], why);
                            }
                        }
                    })
                    .exceptionally(err -> {
                        for (int i : still) {
                            causes[i] = unwrap(err);
                        }
                        return null;
                    });
        }).exceptionally(err -> {
            for (int i = 0; i < n; i++) {
                if (causes[i] == null) {
                    causes[i] = unwrap(err);
                }
            }
            return null;
        });
        return track(done.thenApply(v -> {
            List<MutableBlock> landed = new ArrayList<>();
            List<Integer> indices = new ArrayList<>();
            List<PullResult.Failure> failed = new ArrayList<>();
            int changed = 0;
            List<ImmutableBlock> registered;
            try {
                for (int i = 0; i < n; i++) {
                    if (causes[i] == null) {
                        landed.add(blocks.get(i).complete(sequence, firstBlock + i));
                        indices.add(i);
                    } else {
                        blocks.get(i).close(); // freed: what it holds is never matched
                        failed.add(new PullResult.Failure(i, hashes[firstBlock + i], causes[i]));
                        changed += causes[i] instanceof RemoteBlockChangedException ? 1 : 0;
                    }
                }
                registered = g1.pool.register(landed);
            } catch (RuntimeException e) { // a bug, or the manager closed under the pull: hand nothing back
                closeAll(blocks);
                throw e;
            }
            metrics.pulled(landed.size(), landed.size() * g1.blockBytes);
            metrics.pullChanged(changed);
            metrics.pullFailed(failed.size() - changed);
            if (offloader != null) {
                offloader.enqueue(registered, 0);
            }
            return new PullResult(registered, indices, failed);
        }));
    }

    /** Reads the peer's states of blocks {@code src} into scratch records {@code 2b + which} of {@code into}. */
    private CompletableFuture<Void> readStates(LayoutHandle states, int[] src, List<MutableBlock> into, int which) {
        int[] dst = new int[into.size()];
        for (int i = 0; i < dst.length; i++) {
            dst[i] = 2 * into.get(i).blockId() + which;
        }
        return transferOrFail(states, src, pullScratchHandle, dst);
    }

    private CompletableFuture<Void> transferOrFail(LayoutHandle src, int[] srcBlocks, LayoutHandle dst,
                                                   int[] dstBlocks) {
        try {
            return transport.executeTransfer(src, srcBlocks, dst, dstBlocks);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    private static int[] stillWanted(Throwable[] causes) {
        int[] out = new int[causes.length];
        int k = 0;
        for (int i = 0; i < causes.length; i++) {
            if (causes[i] == null) {
                out[k++] = i;
            }
        }
        return Arrays.copyOf(out, k);
    }

    private static int[] pick(int[] values, int[] at) {
        int[] out = new int[at.length];
        for (int i = 0; i < at.length; i++) {
            out[i] = values[at[i]];
        }
        return out;
    }

    private static <T> List<T> pick(List<T> values, int[] at) {
        List<T> out = new ArrayList<>(at.length);
        for (int i : at) {
            out.add(values.get(i));
        }
        return out;
    }

    // ---------------------------------------------------------------- introspection

    /**
     * Which storage provider a tier's memory came from ({@code system-memory}, {@code ucx-host}, {@code cuda},
     * {@code disk}, ...): the build's log line says it for every tier.
     *
     * @param tier a tier of this manager
     * @return the provider's name
     */
    public String storageProvider(Tier tier) {
        return state(tier).provider;
    }

    /** {@return the tiers this manager has, fastest first} */
    public List<Tier> tiers() {
        return List.copyOf(tiers.keySet());
    }

    /**
     * One tier's pool (for its events, stats and {@code touch}).
     *
     * @param tier a tier of this manager
     * @return the pool
     */
    public BlockPool pool(Tier tier) {
        return state(tier).pool;
    }

    /**
     * One tier's memory: where block {@code id}'s KV is.
     *
     * @param tier a tier of this manager
     * @return its layout
     */
    public OwnedLayout layout(Tier tier) {
        return state(tier).layout;
    }

    /**
     * One tier's layout handle with {@link #transport()}.
     *
     * @param tier a tier of this manager
     * @return the handle
     */
    public LayoutHandle handle(Tier tier) {
        return state(tier).handle;
    }

    /** {@return the model shape every tier is laid out for} */
    public ModelShape shape() {
        return shape;
    }

    /** {@return the transport this manager moves blocks with} */
    public TransportManager transport() {
        return transport;
    }

    /** {@return live figures: blocks per tier, match hit rate, transfers per hop} */
    public KvbmMetrics metrics() {
        return metrics;
    }

    /**
     * Completes when every offload queued so far has ended (copied, skipped or failed): for tests and for an
     * orderly drain before shutdown.
     *
     * @return completes on the manager's callback threads
     */
    public CompletableFuture<Void> offloadsIdle() {
        CompletableFuture<Void> idle = offloader == null ? CompletableFuture.completedFuture(null) : offloader.idle();
        return idle.thenApplyAsync(v -> v, callbacks);
    }

    private TierState state(Tier tier) {
        Objects.requireNonNull(tier, "tier");
        TierState s = tiers.get(tier);
        if (s == null) {
            throw new IllegalArgumentException("this manager has no tier " + tier + "; its tiers are "
                    + tiers.keySet());
        }
        return s;
    }

    TierState first() {
        return tiers.get(Tier.G1);
    }

    private Optional<TierState> next(Tier tier) {
        for (TierState s : tiers.values()) {
            if (s.tier.ordinal() > tier.ordinal()) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }

    private TierState tierOf(ImmutableBlock b, String what) {
        for (TierState s : tiers.values()) {
            if (s.pool == b.pool()) {
                return s;
            }
        }
        throw new IllegalArgumentException(what + ": " + b + " belongs to a pool of another manager");
    }

    ManagerMetrics metricsImpl() {
        return metrics;
    }

    // ---------------------------------------------------------------- moving blocks between tiers

    /**
     * Copies blocks from one tier to another. Never fails as a whole: when the batch fails, each block is copied on
     * its own so that exactly the blocks whose bytes did not land are reported, with their cause.
     */
    CompletableFuture<CopyOutcome> copy(TierState from, int[] src, TierState to, int[] dst) {
        int n = src.length;
        return transfer(from, src, to, dst).handle((v, err) -> err).thenCompose(err -> {
            if (err == null) {
                metrics.landed(from.tier, to.tier, n, n * from.blockBytes);
                return CompletableFuture.completedFuture(new CopyOutcome(new Throwable[n]));
            }
            if (n == 1) {
                metrics.failed(from.tier, to.tier, 1);
                return CompletableFuture.completedFuture(new CopyOutcome(new Throwable[] {unwrap(err)}));
            }
            LOG.log(System.Logger.Level.DEBUG, () -> "a copy of " + n + " blocks " + from.tier + " -> " + to.tier
                    + " failed (" + unwrap(err) + "); copying them one by one to find which");
            Throwable[] causes = new Throwable[n];
            CompletableFuture<?>[] singles = new CompletableFuture<?>[n];
            for (int i = 0; i < n; i++) {
                int j = i;
                singles[i] = transfer(from, new int[] {src[i]}, to, new int[] {dst[i]}).handle((v2, e2) -> {
                    if (e2 != null) {
                        causes[j] = unwrap(e2);
                        metrics.failed(from.tier, to.tier, 1);
                    } else {
                        metrics.landed(from.tier, to.tier, 1, from.blockBytes);
                    }
                    return null;
                });
            }
            return CompletableFuture.allOf(singles).thenApply(x -> new CopyOutcome(causes));
        });
    }

    private CompletableFuture<Void> transfer(TierState from, int[] src, TierState to, int[] dst) {
        try {
            if (bounceLayout != null && directExecutorMissing(from, to)) {
                return bounced(from, src, to, dst);
            }
            return transport.executeTransfer(from.handle, src, to.handle, dst);
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /** One bounced transfer at a time: they share the bounce buffer. */
    private synchronized CompletableFuture<Void> bounced(TierState from, int[] src, TierState to, int[] dst) {
        TransferOptions options = TransferOptions.builder().bounceBuffer(bounceHandle, bounceBlocks).build();
        CompletableFuture<Void> f = bounceTail.handle((v, e) -> null)
                .thenCompose(x -> transport.executeTransfer(from.handle, src, to.handle, dst, options));
        bounceTail = f;
        return f;
    }

    /**
     * Writes blocks just evicted from {@code from} to {@code to} (unless {@code to} has them or they are on their
     * way there), on the allocating
     * thread, before the allocation returns. Blocks that cannot be written are lost from the cache, and counted.
     */
    private void writeBack(TierState from, TierState to, List<BlockMeta> evicted) {
        if (closed) {
            return;
        }
        List<BlockMeta> wanted = new ArrayList<>(evicted.size());
        for (BlockMeta m : evicted) {
            if (to.pool.isRegistered(m.sequenceHash()) || to.pool.isIncoming(m.sequenceHash())) {
                metrics.skipped(from.tier, to.tier, 1);
            } else {
                wanted.add(m);
            }
        }
        try {
            writeDown(from, to, wanted).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            LOG.log(System.Logger.Level.WARNING, "write-back " + from.tier + " -> " + to.tier + " failed", e);
        }
    }

    /**
     * Copies registered blocks of {@code from} down to {@code to} and registers them there, keeping prefixes whole:
     * the blocks are taken as runs of consecutive blocks of a sequence (a parent before its children), each run is
     * given blocks of {@code to} from its head, and what does not fit is dropped from the tail (counted as dropped,
     * logged at DEBUG), never evicting the run's own ancestors in {@code to}, which stay held until the copies are
     * registered. A run whose parent is in this batch and was dropped is dropped too (it comes later, when no room
     * is left). {@code blocks} must stay as
     * they are in {@code from} until the returned future completes.
     *
     * @return completes once what landed is registered in {@code to} (never exceptionally for a failed copy)
     */
    CompletableFuture<Void> writeDown(TierState from, TierState to, List<BlockMeta> blocks) {
        if (blocks.isEmpty()) {
            return CompletableFuture.completedFuture(null);
        }
        // Parents before children, then chain each block to the run its parent ends.
        List<BlockMeta> ordered = new ArrayList<>(blocks);
        ordered.sort(java.util.Comparator.comparingInt(BlockMeta::position));
        Map<Long, List<BlockMeta>> endsRun = new java.util.HashMap<>(); // a run's last block's hash -> the run
        List<List<BlockMeta>> runs = new ArrayList<>();
        for (BlockMeta m : ordered) {
            List<BlockMeta> run = m.hasParent() ? endsRun.remove(m.parentHash()) : null;
            if (run == null) {
                run = new ArrayList<>();
                runs.add(run);
            }
            run.add(m);
            endsRun.put(m.sequenceHash(), run);
        }
        // The pool gives each run blocks from its head; once one is cut short there is no room for the rest, so a
        // run whose parent is in this batch never gets blocks when its parent did not.
        BlockPool.PrefixAllocation room = to.pool.allocateBelow(runs);
        List<BlockMeta> wanted = new ArrayList<>(blocks.size());
        List<MutableBlock> dst = new ArrayList<>(blocks.size());
        int dropped = 0;
        for (int i = 0; i < runs.size(); i++) {
            List<MutableBlock> mine = room.runs().get(i);
            dropped += runs.get(i).size() - mine.size();
            wanted.addAll(runs.get(i).subList(0, mine.size()));
            dst.addAll(mine);
        }
        if (dropped > 0) {
            int kept = wanted.size();
            int droppedBlocks = dropped;
            metrics.dropped(from.tier, to.tier, dropped);
            LOG.log(System.Logger.Level.DEBUG, () -> String.format(Locale.ROOT,
                    "%s had room for %d of %d blocks written down from %s without evicting their own prefixes;"
                            + " dropped the last %d", to.tier, kept, kept + droppedBlocks, from.tier, droppedBlocks));
        }
        if (wanted.isEmpty()) {
            to.pool.release(room.held());
            return CompletableFuture.completedFuture(null);
        }
        int[] src = wanted.stream().mapToInt(BlockMeta::blockId).toArray();
        int[] dstIds = dst.stream().mapToInt(MutableBlock::blockId).toArray();
        return copy(from, src, to, dstIds).handle((outcome, err) -> {
            try {
                List<MutableBlock> landed = new ArrayList<>();
                for (int i = 0; i < wanted.size(); i++) {
                    if (err == null && outcome.landed(i)) {
                        landed.add(dst.get(i)); // filled by allocateBelow
                    } else {
                        dst.get(i).close();
                    }
                }
                closeAll(to.pool.register(landed)); // released at once: inactive in the lower tier, matchable there
            } catch (RuntimeException e) {
                closeAll(dst); // those not registered: no longer on their way
                LOG.log(System.Logger.Level.ERROR, "registering blocks written down to " + to.tier + " failed", e);
            } finally {
                to.pool.release(room.held());
            }
            return null;
        });
    }

    // ---------------------------------------------------------------- plumbing

    /** Completes the caller's future on the callback threads, and remembers it until it is done (for close). */
    private <T> CompletableFuture<T> track(CompletableFuture<T> internal) {
        CompletableFuture<T> external = internal.whenCompleteAsync((v, e) -> { }, callbacks);
        synchronized (inFlight) {
            inFlight.add(internal);
        }
        internal.whenComplete((v, e) -> {
            synchronized (inFlight) {
                inFlight.remove(internal);
            }
        });
        return external;
    }

    static Throwable unwrap(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        return t;
    }

    /**
     * Releases shared blocks, one lock per pool: what a request does when it ends.
     *
     * @param blocks blocks of any of this manager's tiers, in any order; closed handles are skipped
     */
    public static void release(List<ImmutableBlock> blocks) {
        Objects.requireNonNull(blocks, "blocks");
        BlockPool only = blocks.isEmpty() ? null : blocks.getFirst().pool();
        for (ImmutableBlock b : blocks) {
            if (Objects.requireNonNull(b, "a block in the list").pool() != only) {
                only = null;
                break;
            }
        }
        if (only != null) {
            only.release(blocks);
            return;
        }
        Map<BlockPool, List<ImmutableBlock>> byPool = new IdentityHashMap<>();
        for (ImmutableBlock b : blocks) {
            byPool.computeIfAbsent(b.pool(), p -> new ArrayList<>()).add(b);
        }
        byPool.forEach(BlockPool::release);
    }

    static void closeAll(List<? extends AutoCloseable> handles) {

        for (AutoCloseable h : handles) {
            if (h != null) {
                try {
                    h.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("KvBlockManager of worker " + Long.toUnsignedString(transport.workerId())
                    + " is closed");
        }
    }

    /**
     * Stops offloading (queued offloads are dropped), waits up to 30 s for copies in flight, then closes the
     * transport, ends every tier's event stream and frees every tier's memory. Blocks still held by callers stay
     * valid handles, but their memory is gone. Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        if (offloader != null) {
            offloader.close();
        }
        if (eventPublisher != null) {
            eventPublisher.close();
            eventSink.close();
        }
        List<CompletableFuture<?>> pending;
        synchronized (inFlight) {
            pending = new ArrayList<>(inFlight);
        }
        try {
            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException | TimeoutException e) {
            LOG.log(System.Logger.Level.WARNING, "closing with transfers that failed or did not end: " + e);
        }
        transport.close();
        for (TierState s : tiers.values()) {
            s.pool.close();
            s.close();
        }
        if (bounceLayout != null) {
            bounceLayout.close();
        }
        if (pullScratch != null) {
            pullScratch.close();
        }
        callbacks.shutdown();
    }

    @Override
    public String toString() {
        return "KvBlockManager[worker " + Long.toUnsignedString(transport.workerId()) + ", " + describeTiers() + "]";
    }

    /**
     * Builds a {@link KvBlockManager}. Required: the model shape and tier G1. Defaults: a random worker id, the
     * transport's default agent, duplicates refused, 4 offload batches in flight of up to 16 blocks, the JVM's
     * {@link Backends#shared() shared backends}.
     */
    public static final class Builder {
        private ModelShape shape;
        private final Map<Tier, TierSpec> specs = new EnumMap<>(Tier.class);
        private long workerId = new SecureRandom().nextLong() & Long.MAX_VALUE;
        private String agentName = ""; // "": the transport's default; null: none
        private dev.kvbm.api.spi.AgentProvider.Options agentOptions = dev.kvbm.api.spi.AgentProvider.Options.DEFAULT;
        private BlockPool.Duplicates duplicates = BlockPool.Duplicates.REFUSE;
        private int maxInFlight = 4;
        private int batchSize = 16;
        private Backends backends;
        private String eventSink; // null: no events published
        private Map<String, String> eventSettings = Map.of();
        private java.time.Duration eventHeartbeat = dev.kvbm.manager.events.KvEventPublisher.DEFAULT_HEARTBEAT;

        private Builder() {
        }

        /**
         * Publishes G1's KV events to a sink ({@link dev.kvbm.manager.events.KvEventSinkProvider}): {@code in-process}
         * (the JVM's {@link dev.kvbm.manager.events.KvEventBus#shared() bus}) or {@code nats} (with
         * {@code kvbm-events-nats}; settings {@code servers} and {@code namespace}).
         *
         * @param sink     the sink's name
         * @param settings its settings
         * @return this builder
         */
        public Builder events(String sink, Map<String, String> settings) {
            this.eventSink = Objects.requireNonNull(sink, "sink");
            this.eventSettings = Map.copyOf(settings);
            return this;
        }

        /**
         * Sets how long the event publisher stays silent before it sends an event that changes nothing, so that a
         * router learns of a lost last event while the worker is idle (see
         * {@link dev.kvbm.manager.events.KvEventPublisher}).
         *
         * @param heartbeat the silence, at least a millisecond; {@link java.time.Duration#ZERO} for none; default 1
         *                  second; checked when the manager is built
         * @return this builder
         */
        public Builder eventHeartbeat(java.time.Duration heartbeat) {
            this.eventHeartbeat = Objects.requireNonNull(heartbeat, "heartbeat");
            return this;
        }

        /**
         * Reads settings from a JSON or YAML file ({@code .json}, {@code .yaml}, {@code .yml}); builder calls after
         * this one override what it set. The format is in the README.
         *
         * @param file the configuration
         * @return this builder
         * @throws IOException              when the file cannot be read
         * @throws IllegalArgumentException when it is not valid; the message names the field and what is allowed
         */
        public Builder config(Path file) throws IOException {
            ManagerConfig.read(file, this);
            return this;
        }

        /**
         * Sets the model's KV shape.
         *
         * @param shape the shape
         * @return this builder
         */
        public Builder model(ModelShape shape) {
            this.shape = Objects.requireNonNull(shape, "shape");
            return this;
        }

        /**
         * Adds (or replaces) a tier.
         *
         * @param tier the tier
         * @param spec its size and layout
         * @return this builder
         */
        public Builder tier(Tier tier, TierSpec spec) {
            specs.put(Objects.requireNonNull(tier, "tier"), Objects.requireNonNull(spec, "spec"));
            return this;
        }

        /**
         * Sets this worker's id (unsigned 64-bit), as peers and layout handles name it.
         *
         * @param workerId the id
         * @return this builder
         */
        public Builder workerId(long workerId) {
            this.workerId = workerId;
            return this;
        }

        /**
         * Names the agent provider for remote blocks ({@code local}, {@code ucx}).
         *
         * @param name the provider's name
         * @return this builder
         */
        public Builder agent(String name) {
            this.agentName = Objects.requireNonNull(name, "name");
            return this;
        }

        /**
         * Sets the agent's options: how long a transfer waits on a silent peer, and the agent's own settings — for
         * the {@code ucx} agent UCX's configuration as {@code ucx.NAME} (e.g. {@code ucx.TLS=tcp},
         * {@code ucx.NET_DEVICES=eth1} to keep remote reads on one NIC), for the {@code local} agent
         * {@code threads} (its copy threads). A setting the agent does not know fails {@link #build()}, naming it.
         *
         * @param options the peer timeout and settings; {@link dev.kvbm.api.spi.AgentProvider.Options#DEFAULT} by
         *                default
         * @return this builder
         */
        public Builder agentOptions(dev.kvbm.api.spi.AgentProvider.Options options) {
            this.agentOptions = Objects.requireNonNull(options, "options");
            return this;
        }

        /**
         * Builds without an agent: no remote blocks.
         *
         * @return this builder
         */
        public Builder withoutAgent() {
            this.agentName = null;
            return this;
        }

        /**
         * Sets what registering an already registered hash does.
         *
         * @param duplicates refuse (hand back the registered block) or allow (keep a private duplicate)
         * @return this builder
         */
        public Builder duplicates(BlockPool.Duplicates duplicates) {
            this.duplicates = Objects.requireNonNull(duplicates, "duplicates");
            return this;
        }

        /**
         * Sets the offload concurrency.
         *
         * @param maxInFlight offload batches in flight at once, at least 1 (default 4)
         * @param batchSize   blocks per offload batch, at least 1 (default 16); also half the bounce buffer
         * @return this builder
         */
        public Builder offload(int maxInFlight, int batchSize) {
            if (maxInFlight < 1 || batchSize < 1 || batchSize > 4096) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "offload needs maxInFlight >= 1 and batchSize 1..4096, got %d and %d", maxInFlight,
                        batchSize));
            }
            this.maxInFlight = maxInFlight;
            this.batchSize = batchSize;
            return this;
        }

        /**
         * Uses these providers instead of the JVM's shared ones.
         *
         * @param backends the providers
         * @return this builder
         */
        public Builder backends(Backends backends) {
            this.backends = Objects.requireNonNull(backends, "backends");
            return this;
        }

        /**
         * Allocates every tier, registers them with a new transport and starts the offload thread.
         *
         * @return the manager
         * @throws IllegalArgumentException      when the shape or G1 is missing, or a tier is invalid
         * @throws UnsupportedOperationException when no backend provides a tier's storage
         */
        public KvBlockManager build() {
            return new KvBlockManager(this);
        }
    }
}
