package dev.kvbm.backend.nixl;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentDescriptor;
import dev.kvbm.api.spi.AgentTransfer;
import dev.kvbm.api.spi.DescriptorList;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.Notification;
import dev.kvbm.api.spi.Storage;
import org.openucx.jucx.UcxCallback;
import org.openucx.jucx.UcxUtils;
import org.openucx.jucx.ucp.UcpAmData;
import org.openucx.jucx.ucp.UcpContext;
import org.openucx.jucx.ucp.UcpEndpoint;
import org.openucx.jucx.ucp.UcpEndpointParams;
import org.openucx.jucx.ucp.UcpMemMapParams;
import org.openucx.jucx.ucp.UcpMemory;
import org.openucx.jucx.ucp.UcpParams;
import org.openucx.jucx.ucp.UcpRemoteKey;
import org.openucx.jucx.ucp.UcpRequest;
import org.openucx.jucx.ucp.UcpWorker;
import org.openucx.jucx.ucp.UcpWorkerParams;
import org.openucx.jucx.ucs.UcsConstants;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An agent on one UCX context and worker, driven by one {@link ProgressThread} that owns every UCX call and every
 * field below marked "progress thread". Public methods hand their work to that thread and wait for it; futures
 * are completed on a separate executor, so a caller's callbacks never run on (or block) the progress thread.
 *
 * <p><b>Data path.</b> A transfer is checked against this agent's registrations and the peer's loaded regions,
 * adjacent descriptors are coalesced, every piece is posted as a non-blocking implicit GET or PUT on the peer's
 * data endpoint, and one flush ends the transfer; a write notification follows the flush as an active message.
 * The data endpoint has no peer error handling, because with UCX 1.13 that mode gives up the shared-memory
 * transports (measured: TCP at about 1 GB/s instead of shared memory).
 *
 * <p><b>Peer failure.</b> A second, control endpoint to each peer has peer error handling (it travels over TCP and
 * carries only small messages), so UCX reports a peer that died; the data endpoint's own errors count too. A dead
 * peer fails its transfers at once; any transfer also fails at the peer timeout. Either way the transfer keeps its
 * hold on the memory it touches until UCX has finished with it or the peer is known dead.
 *
 * <p><b>Lifetime across processes.</b> A one-sided operation cannot be refused by its target, so a region is
 * withdrawn by agreement: a peer that loads this agent's metadata attaches ({@code ATTACH}); before this agent
 * deregisters a region (its storage is closing, the registration is closed, or the agent is closed) it sends every
 * attached peer {@code REVOKE} and waits until each has answered (after its operations on the region completed),
 * has detached, or has failed. A peer that does none of these within the peer timeout is disconnected and the
 * withdrawal goes on; that is the one case where the rule rests on the timeout. See {@link Wire}.
 *
 * <p><b>Answering attached peers.</b> This agent speaks to a peer that attached through an endpoint of its own, on a
 * second worker, with peer error handling: a peer that dies fails what is sent to it and is reported, so it leaves
 * every withdrawal round at once. The endpoint UCX hands out with a received message is UCX's own: UCX 1.13 destroys
 * it without a word when it sees the peer die, and a later send on it crashed the process. The second worker keeps
 * these endpoints apart from the peer's own endpoints towards this agent, which UCX's endpoint matching (by worker
 * and connection number) could otherwise pair with a new endpoint of this agent's main worker.
 *
 * <p><b>Authentication.</b> With a cluster secret ({@link ClusterAuth}) every metadata blob and control message is
 * checked under a MAC before it is parsed or acted on: a peer without the secret cannot make UCX unpack rkeys of its
 * choosing, attach, revoke or notify under another agent's name, and a message said again is refused (counted in
 * {@link #refusedMessages()}). Without one the agent runs in trusted-network mode, which the first such agent of
 * the JVM says when it starts.
 * Notifications wait in an inbox bounded in bytes; one that does not fit is refused and fails its sender's write
 * with that cause (counted in {@link #refusedNotifications()}).
 */
final class UcxAgent implements Agent {
    private static final System.Logger LOG = System.getLogger(UcxAgent.class.getName());
    private static final int AM_ID = 17;
    /** {@code UCP_AM_SEND_FLAG_EAGER}: control messages arrive whole in the receive callback. */
    private static final long AM_SEND_FLAG_EAGER = 1L << 1;
    private static final AtomicLong IDS = new AtomicLong();
    private static final java.util.concurrent.atomic.AtomicBoolean TRUSTED_MODE_SAID =
            new java.util.concurrent.atomic.AtomicBoolean();
    /** UCX memory registrations of every agent of this JVM not yet deregistered; tests check it returns to 0. */
    static final AtomicInteger MAPPED = new AtomicInteger();
    /** Agents of this JVM whose worker and context are not yet destroyed. */
    static final AtomicInteger OPEN = new AtomicInteger();

    private static final int REGIONS_IN_MESSAGES = 8;
    /** Default bound of the notification inbox, in payload bytes. */
    static final long DEFAULT_INBOX_BYTES = 64L << 20;

    private final String name;
    private final Duration peerTimeout;
    private final UcpContext context;
    private final boolean ownContext;
    private final UcpWorker worker;
    /** Endpoints to attached peers only: see "Answering attached peers" above. */
    private final UcpWorker answerWorker;
    private final byte[] workerAddress;
    private final boolean cudaMemory;
    private final ProgressThread progress;
    private final ExecutorService completions;
    private final java.util.concurrent.Executor callbacks = this::runCallback;
    private final ScheduledExecutorService timer;
    private final Queue<Notification> inbox = new ConcurrentLinkedQueue<>();
    private final AtomicLong inboxBytes = new AtomicLong();
    private final long maxInboxBytes;
    private final AtomicLong refusedNotifications = new AtomicLong();
    private final AtomicLong refusedMessages = new AtomicLong();
    private final ClusterAuth auth;
    private volatile boolean closed;

    // Progress thread only:
    private final ClusterAuth.Replay replay = new ClusterAuth.Replay();
    /** The newest metadata loaded of each peer name: its run and generation, to refuse older blobs said again. */
    private final Map<String, SeenMetadata> metadataSeen = new HashMap<>();
    private long metadataGeneration;
    /** Writes whose notification was sent, waiting for the receiver's NOTIFY_ACK, by notification id. */
    private final Map<Long, Transfer> awaitingNotifyAck = new HashMap<>();

    // Progress thread only.
    private final List<LocalRegion> registrations = new ArrayList<>();
    private final Map<String, RemotePeer> peers = new HashMap<>();
    private final Set<RemotePeer> retiring = new HashSet<>();
    private final Map<String, Attached> attached = new HashMap<>();
    private final Map<Long, PendingAttach> pendingAttaches = new HashMap<>();
    private final Map<Long, RevokeRound> rounds = new HashMap<>();
    private final Set<Transfer> transfers = new LinkedHashSet<>();
    private final Set<ByteBuffer> sending = Collections.newSetFromMap(new IdentityHashMap<>());
    private int answersInFlight; // messages sent on answer endpoints and not yet completed or failed
    private final List<UcpRequest> closingEndpoints = new ArrayList<>();
    private final List<CompletableFuture<Void>> idleWaiters = new ArrayList<>();
    /** Registrations mapped and not yet deregistered, withdrawals in progress included. */
    private final Set<LocalRegion> everRegistered = Collections.newSetFromMap(new IdentityHashMap<>());

    private UcxAgent(String name, Duration peerTimeout, UcpContext context, boolean ownContext, UcpWorker worker,
                     UcpWorker answerWorker, ClusterAuth auth, long maxInboxBytes) {
        this.name = name;
        this.peerTimeout = peerTimeout;
        this.auth = auth;
        this.maxInboxBytes = maxInboxBytes;
        this.context = context;
        this.ownContext = ownContext;
        this.worker = worker;
        this.answerWorker = answerWorker;
        this.workerAddress = copy(worker.getAddress());
        this.cudaMemory = (context.getMemoryTypesMask() & (1L << UcsConstants.MEMORY_TYPE.UCS_MEMORY_TYPE_CUDA)) != 0;
        AtomicInteger threads = new AtomicInteger();
        this.completions = Executors.newCachedThreadPool(r -> daemon(r, "kvbm-ucx-" + name + "-callbacks-"
                + threads.incrementAndGet()));
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "kvbm-ucx-" + name + "-timer"));
        worker.setAmRecvHandler(AM_ID, this::onActiveMessage);
        this.progress = new ProgressThread("kvbm-ucx-" + name + "-progress", worker, answerWorker,
                () -> answersInFlight > 0, this::destroyWorker,
                () -> !transfers.isEmpty() || !sending.isEmpty() || !pendingAttaches.isEmpty()
                        || !awaitingNotifyAck.isEmpty());
        this.progress.start();
        OPEN.incrementAndGet();
        if (auth.authenticated() || !TRUSTED_MODE_SAID.getAndSet(true)) { // the trusted mode is said once a JVM
            LOG.log(System.Logger.Level.INFO, "ucx agent {0} (run {1}): {2}", name, auth.instanceHex(),
                    auth.describe());
        }
    }

    static UcxAgent open(String name, Duration peerTimeout, Map<String, String> ucxConfig) {
        return open(name, peerTimeout, ucxConfig, ClusterAuth.trustedNetwork(), DEFAULT_INBOX_BYTES);
    }

    static UcxAgent open(String name, Duration peerTimeout, Map<String, String> ucxConfig, ClusterAuth auth,
                         long maxInboxBytes) {
        if (name.isEmpty() || Wire.utf8(name).length > UcxMetadata.MAX_NAME_BYTES) {
            throw new IllegalArgumentException("agent name must be 1.." + UcxMetadata.MAX_NAME_BYTES + " UTF-8 bytes");
        }
        UcpContext context;
        boolean ownContext = !ucxConfig.isEmpty();
        if (ownContext) {
            UcpParams params = UcxContexts.params();
            ucxConfig.forEach(params::setConfig);
            try {
                context = new UcpContext(params);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("UCX rejected the agent's configuration " + ucxConfig + ": "
                        + e.getMessage(), e);
            }
        } else {
            context = UcxContexts.shared();
        }
        UcpWorker worker = null;
        try {
            worker = context.newWorker(new UcpWorkerParams());
            return new UcxAgent(name, peerTimeout, context, ownContext, worker, context.newWorker(new UcpWorkerParams()),
                    auth, maxInboxBytes);
        } catch (RuntimeException e) {
            if (worker != null) {
                worker.close();
            }
            if (ownContext) {
                context.close();
            }
            throw new KvbmException("could not start a UCX worker for agent " + name + ": " + e.getMessage(), e);
        }
    }

    private static Thread daemon(Runnable r, String threadName) {
        Thread t = new Thread(r, threadName);
        t.setDaemon(true);
        return t;
    }

    @Override
    public String name() {
        return name;
    }

    // ---------------------------------------------------------------- registration

    @Override
    public Registration register(Storage storage, MemoryRegion region) {
        Objects.requireNonNull(storage, "storage");
        Objects.requireNonNull(region, "region");
        MemType memType = MemType.of(storage.kind());
        long deviceId = 0;
        switch (memType) {
            case DRAM -> {
            }
            case VRAM -> {
                if (!cudaMemory) {
                    throw new UnsupportedOperationException(String.format(Locale.ROOT,
                            "cannot register %s memory: this machine's UCX has no CUDA memory support (no cuda_copy"
                                    + " or cuda_ipc transport; Debian's libucx0 is built without CUDA). Install a UCX"
                                    + " built with CUDA (e.g. from NVIDIA HPC-X) to move GPU memory over UCX",
                            storage.kind()));
                }
                deviceId = storage.kind().id();
            }
            default -> throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "the ucx agent registers host (DRAM) and GPU (VRAM) memory, not %s on %s; files are moved by the"
                            + " disk tier's executor", memType, storage.kind()));
        }
        if (region.size() == 0 || !storage.region().contains(region)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "cannot register %s: a registration covers at least one byte inside its storage %s %s", region,
                    storage.kind(), storage.region()));
        }
        ensureOpen();
        LocalRegion local = new LocalRegion(IDS.incrementAndGet(), region, memType, deviceId);
        // Throws IllegalStateException for closed storage; from now on its close withdraws this registration.
        local.hook = storage.onClose("registration with ucx agent " + name, () -> withdraw(local));
        try {
            progress.call(() -> {
                ensureOpen();
                for (LocalRegion r : registrations) {
                    if (r.region.overlaps(region)) {
                        throw new IllegalArgumentException(String.format(Locale.ROOT,
                                "%s overlaps %s, already registered with agent %s; registrations must be disjoint",
                                region, r.region, name));
                    }
                }
                if (storage instanceof UcxHostStorage ucx && !ownContext) {
                    // Memory UCX allocated in this very context: its handle (and shared-memory rkey) is reused.
                    local.memory = ucx.memory();
                    local.borrowed = true;
                } else {
                    UcpMemMapParams map = new UcpMemMapParams().setAddress(region.address())
                            .setLength(region.size());
                    if (memType == MemType.VRAM) {
                        map.setMemoryType(UcsConstants.MEMORY_TYPE.UCS_MEMORY_TYPE_CUDA);
                    }
                    local.memory = context.memoryMap(map);
                    MAPPED.incrementAndGet();
                }
                local.rkey = copy(local.memory.getRemoteKeyBuffer());
                registrations.add(local);
                everRegistered.add(local);
                return null;
            });
        } catch (RuntimeException e) {
            local.hook.close();
            throw e;
        }
        return local;
    }

    /**
     * Withdraws a registration: peers are told and answer, operations of this agent on it finish, then UCX
     * deregisters it. Runs on the thread closing the storage or the registration; a second caller waits for the
     * first.
     */
    private void withdraw(LocalRegion local) {
        if (progress.isProgressThread()) {
            throw new IllegalStateException("a registration cannot be withdrawn from the UCX progress thread");
        }
        Withdrawal w;
        try {
            w = progress.call(() -> beginWithdrawal(local));
        } catch (IllegalStateException stopped) {
            return; // the agent closed: it withdrew everything itself
        }
        if (!w.owner) {
            awaitQuietly(w.done, "the withdrawal of " + local.region + " started by another thread");
            return;
        }
        try {
            if (w.round != null) {
                awaitRound(w.round);
            }
            CompletableFuture<Void> drained = progress.call(() -> local.drained());
            awaitQuietly(drained, "this agent's transfers on " + local.region);
            progress.call(() -> {
                deregister(local);
                return null;
            });
        } catch (IllegalStateException stopped) {
            // the agent closed meanwhile and deregistered everything
        } finally {
            w.done.complete(null);
        }
    }

    /** Progress thread. */
    private Withdrawal beginWithdrawal(LocalRegion local) {
        if (local.withdrawal != null) {
            return new Withdrawal(false, null, local.withdrawal);
        }
        local.withdrawal = new CompletableFuture<>();
        registrations.remove(local);
        RevokeRound round = closed ? null : startRound(local.id);
        return new Withdrawal(true, round, local.withdrawal);
    }

    private record Withdrawal(boolean owner, RevokeRound round, CompletableFuture<Void> done) {
    }

    /** Progress thread. */
    private void deregister(LocalRegion local) {
        everRegistered.remove(local);
        if (local.memory != null && !local.deregistered && local.borrowed) {
            local.deregistered = true; // the storage owns the handle and unmaps it when it closes
        }
        if (local.memory != null && !local.deregistered) {
            local.deregistered = true;
            MAPPED.decrementAndGet();
            try {
                local.memory.deregister();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "UCX could not deregister " + local.region + ": " + e.getMessage());
            }
        }
    }

    // ---------------------------------------------------------------- metadata

    @Override
    public byte[] localMetadata() {
        ensureOpen();
        return progress.call(() -> {
            List<UcxMetadata.Region> regions = new ArrayList<>();
            for (LocalRegion r : registrations) {
                regions.add(new UcxMetadata.Region(r.id, r.memType, r.region, r.deviceId, r.rkey));
            }
            return new UcxMetadata(name, workerAddress, regions).encode(auth, ++metadataGeneration);
        });
    }

    @Override
    public String remoteAgentName(byte[] metadata) {
        return UcxMetadata.decode(metadata, auth).agentName();
    }

    /**
     * Connects to the peer, unpacks its rkeys and attaches, waiting up to the peer timeout for its answer.
     *
     * @throws IllegalStateException when the peer does not answer within the peer timeout
     */
    @Override
    public String loadRemoteMetadata(byte[] metadata) {
        UcxMetadata md = UcxMetadata.decode(metadata, auth); // with a secret: its MAC verified before UCX sees it
        ensureOpen();
        PendingAttach pending = progress.call(() -> connect(md));
        try {
            pending.answered.get(peerTimeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException | InterruptedException | ExecutionException e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            progress.call(() -> {
                pendingAttaches.remove(pending.request);
                if (peers.get(md.agentName()) == pending.peer) {
                    peers.remove(md.agentName());
                    retire(pending.peer);
                }
                return null;
            });
            String why = e instanceof ExecutionException ee ? ee.getCause().getMessage()
                    : "it did not answer within the peer timeout " + peerTimeout;
            throw new IllegalStateException("could not attach to peer agent " + md.agentName() + ": " + why
                    + "; is it running and reachable from here?", e instanceof ExecutionException ee ? ee.getCause() : e);
        }
        return md.agentName();
    }

    /** Progress thread. */
    private PendingAttach connect(UcxMetadata md) {
        ensureOpen();
        if (md.instance() != null) {
            String run = java.util.HexFormat.of().formatHex(md.instance());
            SeenMetadata seen = metadataSeen.get(md.agentName());
            if (seen != null && seen.run().equals(run) && seen.generation() > md.generation()) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "metadata of peer agent %s is older"
                        + " (generation %d) than what this agent loaded of it before (generation %d): a stale export,"
                        + " or one said again; load the peer's current metadata", md.agentName(), md.generation(),
                        seen.generation()));
            }
            metadataSeen.put(md.agentName(), new SeenMetadata(run, md.generation()));
        }
        RemotePeer old = peers.remove(md.agentName());
        if (old != null) {
            retire(old);
        }
        RemotePeer peer = new RemotePeer(md.agentName());
        try {
            peer.data = worker.newEndpoint(new UcpEndpointParams().setUcpAddress(direct(md.workerAddress()))
                    .setErrorHandler((ep, status, message) ->
                            progress.later(() -> peerFailed(peer, "data endpoint: " + message))));
            peer.control = worker.newEndpoint(new UcpEndpointParams().setUcpAddress(direct(md.workerAddress()))
                    .setPeerErrorHandlingMode()
                    .setErrorHandler((ep, status, message) -> progress.later(() -> peerFailed(peer, message))));
            for (UcxMetadata.Region r : md.regions()) {
                peer.regions.add(new RemoteRegion(r, peer.data.unpackRemoteKey(direct(r.rkey()))));
            }
        } catch (RuntimeException e) {
            retire(peer);
            throw new IllegalArgumentException("UCX rejected the metadata of peer agent " + md.agentName() + ": "
                    + e.getMessage(), e);
        }
        peers.put(md.agentName(), peer);
        long request = IDS.incrementAndGet();
        peer.attachment = request;
        PendingAttach pending = new PendingAttach(request, peer, new CompletableFuture<>());
        pendingAttaches.put(request, pending);
        send(peer.control, md.agentName(), Wire.attach(name, request, workerAddress), null);
        return pending;
    }

    @Override
    public void invalidateRemote(String remoteAgent) {
        Objects.requireNonNull(remoteAgent, "remoteAgent");
        if (closed) {
            return;
        }
        try {
            progress.call(() -> {
                RemotePeer peer = peers.remove(remoteAgent);
                if (peer != null) {
                    retire(peer);
                }
                // A peer that had loaded our metadata is gone too: it leaves every withdrawal round now instead of
                // when a message to it fails.
                Attached a = attached.remove(remoteAgent);
                if (a != null) {
                    departed(a);
                }
                return null;
            });
        } catch (IllegalStateException stopped) {
            // closed meanwhile: every peer is gone anyway
        }
    }

    /**
     * Progress thread: the peer takes no new transfers; it is told (when alive) that it need not revoke to us, and
     * its endpoints and rkeys go once its transfers in flight are finished with.
     */
    private void retire(RemotePeer peer) {
        if (peer.retired) {
            return;
        }
        peer.retired = true;
        if (!peer.dead && peer.control != null && peer.attachment != 0) {
            send(peer.control, peer.name, Wire.detach(name, peer.attachment), null);
        }
        retiring.add(peer);
        destroyIfIdle(peer);
    }

    /** Progress thread. */
    private void destroyIfIdle(RemotePeer peer) {
        if (!peer.retired || peer.destroyed || (!peer.transfers.isEmpty() && !peer.dead)) {
            return;
        }
        peer.destroyed = true;
        retiring.remove(peer);
        for (RemoteRegion r : peer.regions) {
            r.rkey.close();
        }
        peer.regions.clear();
        if (!peer.dead && peer.flushesPending == 0) {
            closeEndpoint(peer.data, false);
        }
        // else: operations to a dead peer never complete on an endpoint without peer error handling, so its close
        // would never finish either, and UCX aborts when a worker is destroyed under a close request still pending.
        // The worker's destruction discards that endpoint and its operations instead.
        closeEndpoint(peer.control, peer.dead);
    }

    /** Progress thread. */
    private void closeEndpoint(UcpEndpoint ep, boolean failed) {
        if (ep == null) {
            return;
        }
        closingEndpoints.removeIf(r -> r == null || r.isCompleted()); // a long-lived agent sees many peers come and go
        try {
            closingEndpoints.add(failed ? ep.closeNonBlockingForce() : ep.closeNonBlockingFlush());
        } catch (RuntimeException e) {
            try {
                closingEndpoints.add(ep.closeNonBlockingFlush());
            } catch (RuntimeException again) {
                LOG.log(System.Logger.Level.DEBUG, "endpoint close: " + again.getMessage());
            }
        }
    }

    // ---------------------------------------------------------------- transfers

    @Override
    public CompletableFuture<Void> post(AgentTransfer transfer) {
        Objects.requireNonNull(transfer, "transfer");
        requireMemType("local", transfer.local());
        requireMemType("remote", transfer.remote());
        byte[] notification = transfer.notificationBytes().orElse(null);
        if (notification != null && notification.length > Wire.MAX_NOTIFICATION_BYTES) {
            throw new IllegalArgumentException("a notification of " + notification.length + " bytes is too large: at"
                    + " most " + Wire.MAX_NOTIFICATION_BYTES);
        }
        ensureOpen();
        CompletableFuture<Void> done = new AsyncCallbacksFuture<>(callbacks);
        progress.call(() -> {
            start(transfer, notification, done);
            return null;
        });
        return done;
    }

    private static void requireMemType(String side, DescriptorList list) {
        if (list.memType() != MemType.DRAM && list.memType() != MemType.VRAM) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s descriptors are %s; the ucx agent moves DRAM and VRAM", side, list.memType()));
        }
    }

    /** Progress thread: validates everything, then posts every piece and one flush. */
    private void start(AgentTransfer t, byte[] notification, CompletableFuture<Void> done) {
        ensureOpen();
        RemotePeer peer = peers.get(t.remoteAgent());
        if (peer == null) {
            throw new IllegalArgumentException("unknown remote agent '" + t.remoteAgent()
                    + "': load its metadata first (it may have been invalidated)");
        }
        if (peer.dead) {
            // A transfer to a peer known to be gone fails like one that was in flight when it went.
            Transfer failed = new Transfer(t, peer, notification, done);
            finish(failed, new KvbmException("peer agent " + peer.name + " is unreachable (" + peer.deathCause
                    + "); load its metadata again once it is back"));
            return;
        }
        List<AgentDescriptor> local = t.local().descriptors();
        List<AgentDescriptor> remote = t.remote().descriptors();
        LocalRegion[] localRegions = new LocalRegion[local.size()];
        RemoteRegion[] remoteRegions = new RemoteRegion[remote.size()];
        for (int i = 0; i < local.size(); i++) {
            localRegions[i] = findLocal(i, local.get(i).region(), t.local().memType());
        }
        for (int i = 0; i < remote.size(); i++) {
            remoteRegions[i] = findRemote(peer, i, remote.get(i).region(), t.remote().memType());
        }
        Transfer x = new Transfer(t, peer, notification, done);
        Collections.addAll(x.locals, localRegions);
        Collections.addAll(x.remotes, remoteRegions);
        x.locals.remove(null);
        x.remotes.remove(null);
        x.locals.forEach(r -> r.holds++);
        x.remotes.forEach(r -> r.inFlight++);
        transfers.add(x);
        peer.transfers.add(x);
        boolean read = t.operation() == AgentTransfer.Operation.READ;
        try {
            int i = 0;
            while (i < local.size()) {
                MemoryRegion l = local.get(i).region();
                MemoryRegion r = remote.get(i).region();
                long size = l.size();
                RemoteRegion target = remoteRegions[i];
                int j = i + 1;
                while (j < local.size() && remoteRegions[j] == target
                        && local.get(j).region().address() == l.address() + size
                        && remote.get(j).region().address() == r.address() + size) {
                    size += local.get(j).region().size();
                    j++;
                }
                if (size > 0) {
                    if (read) {
                        peer.data.getNonBlockingImplicit(r.address(), target.rkey, l.address(), size);
                    } else {
                        peer.data.putNonBlockingImplicit(l.address(), size, r.address(), target.rkey);
                    }
                }
                i = j;
            }
            peer.flushesPending++;
            peer.data.flushNonBlocking(new UcxCallback() {
                @Override
                public void onSuccess(UcpRequest request) {
                    progress.later(() -> {
                        peer.flushesPending--;
                        ucxFinished(x, null);
                    });
                }

                @Override
                public void onError(int status, String message) {
                    progress.later(() -> {
                        peer.flushesPending--;
                        ucxFinished(x, new KvbmException(String.format(Locale.ROOT,
                                "UCX failed the %s with peer agent %s: %s (status %d)", t.operation(), peer.name,
                                message, status)));
                    });
                }
            });
        } catch (RuntimeException e) {
            ucxFinished(x, new KvbmException("UCX refused the " + t.operation() + " with peer agent " + peer.name
                    + ": " + e.getMessage(), e));
            return;
        }
        x.timeout = timer.schedule(() -> progress.execute(() -> timedOut(x)), peerTimeout.toNanos(),
                TimeUnit.NANOSECONDS);
    }

    private LocalRegion findLocal(int index, MemoryRegion d, MemType memType) {
        if (d.size() == 0) {
            return null;
        }
        for (LocalRegion r : registrations) {
            if (r.memType == memType && r.region.contains(d)) {
                return r;
            }
        }
        throw new IllegalArgumentException(String.format(Locale.ROOT,
                "local descriptor %d %s lies outside the %s memory agent %s has registered: %s", index, d, memType,
                name, describe(registrations.stream().map(r -> r.region).toList())));
    }

    private RemoteRegion findRemote(RemotePeer peer, int index, MemoryRegion d, MemType memType) {
        if (d.size() == 0) {
            return null;
        }
        for (RemoteRegion r : peer.regions) {
            if (r.memType == memType && r.region.contains(d)) {
                if (r.revoked) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "remote descriptor %d %s lies in %s, which peer agent %s has withdrawn (its storage was"
                                    + " closed or unregistered); load the peer's new metadata", index, d, r.region,
                            peer.name));
                }
                return r;
            }
        }
        throw new IllegalArgumentException(String.format(Locale.ROOT,
                "remote descriptor %d %s lies outside the %s memory peer agent %s has registered: %s", index, d,
                memType, peer.name, describe(peer.regions.stream().map(r -> r.region).toList())));
    }

    private static String describe(List<MemoryRegion> regions) {
        if (regions.isEmpty()) {
            return "none";
        }
        List<MemoryRegion> shown = regions.subList(0, Math.min(REGIONS_IN_MESSAGES, regions.size()));
        return shown + (regions.size() > shown.size() ? " and " + (regions.size() - shown.size()) + " more" : "");
    }

    /** Progress thread: UCX is done with the transfer's memory (or the peer died); holds are released. */
    private void ucxFinished(Transfer x, Throwable error) {
        if (x.ucxDone) {
            return;
        }
        x.ucxDone = true;
        if (x.timeout != null) {
            x.timeout.cancel(false);
        }
        transfers.remove(x);
        x.peer.transfers.remove(x);
        for (LocalRegion r : x.locals) {
            if (--r.holds == 0) {
                r.drainWaiters.forEach(f -> f.complete(null));
                r.drainWaiters.clear();
            }
        }
        for (RemoteRegion r : x.remotes) {
            r.inFlight--;
        }
        answerRevokes(x.peer);
        if (error == null && x.notification != null && !x.peer.dead) {
            // The write completes once the receiver took the notification (NOTIFY_ACK), within the peer timeout.
            long id = IDS.incrementAndGet();
            awaitingNotifyAck.put(id, x);
            x.timeout = timer.schedule(() -> progress.execute(() -> {
                awaitingNotifyAck.remove(id);
                timedOut(x);
            }), peerTimeout.toNanos(), TimeUnit.NANOSECONDS);
            send(x.peer.control, x.peer.name, Wire.notify(name, id, x.notification), e -> {
                if (e != null && awaitingNotifyAck.remove(id) != null) {
                    x.timeout.cancel(false);
                    finish(x, new KvbmException("the data of the " + x.transfer.operation() + " landed but its"
                            + " notification to peer agent " + x.peer.name + " failed: " + e, null));
                }
            });
        } else {
            finish(x, error);
        }
        destroyIfIdle(x.peer);
        if (transfers.isEmpty()) {
            idleWaiters.forEach(f -> f.complete(null));
            idleWaiters.clear();
        }
    }

    /** Progress thread. */
    private void timedOut(Transfer x) {
        if (!x.userDone) {
            finish(x, new KvbmException(String.format(Locale.ROOT, "the %s of %d bytes with peer agent %s did not"
                            + " complete within the peer timeout %s; the peer may be dead or unreachable",
                    x.transfer.operation(), x.transfer.local().totalBytes(), x.peer.name, peerTimeout),
                    new TimeoutException()));
        }
    }

    /** Completes the caller's future, off the progress thread. */
    private void finish(Transfer x, Throwable error) {
        if (x.userDone) {
            return;
        }
        x.userDone = true;
        // The caller's future runs every dependent on the callback executor, so completing it here only wakes
        // the threads waiting in get().
        if (error == null) {
            x.done.complete(null);
        } else {
            x.done.completeExceptionally(error);
        }
    }

    /** Runs callers' callbacks; after close, on a virtual thread each. */
    private void runCallback(Runnable callback) {
        try {
            completions.execute(callback);
        } catch (RejectedExecutionException e) {
            Thread.ofVirtual().start(callback);
        }
    }

    /** Progress thread: UCX reported the peer unreachable; everything in flight to it fails and lets go. */
    private void peerFailed(RemotePeer peer, String cause) {
        if (peer.dead) {
            return;
        }
        peer.dead = true;
        peer.deathCause = cause;
        LOG.log(System.Logger.Level.INFO, "agent {0}: peer agent {1} failed: {2}", name, peer.name, cause);
        PendingAttach pending = pendingAttaches.remove(peer.attachment);
        if (pending != null) {
            pending.answered.completeExceptionally(new KvbmException("peer agent " + peer.name + " failed: " + cause));
        }
        peer.pendingAcks.clear();
        for (var it = awaitingNotifyAck.values().iterator(); it.hasNext(); ) {
            Transfer x = it.next();
            if (x.peer == peer) {
                it.remove();
                finish(x, new KvbmException("the data of the " + x.transfer.operation() + " landed but peer agent "
                        + peer.name + " failed before it took the notification: " + cause));
            }
        }
        for (Transfer x : List.copyOf(peer.transfers)) {
            ucxFinished(x, new KvbmException("peer agent " + peer.name + " failed during the "
                    + x.transfer.operation() + ": " + cause));
        }
        destroyIfIdle(peer);
    }

    // ---------------------------------------------------------------- control messages

    /** Progress thread (UCX calls it from {@code ucp_worker_progress}). */
    private int onActiveMessage(long headerAddress, long headerSize, UcpAmData data, UcpEndpoint replyEp) {
        if (!data.isDataValid() || data.getLength() <= 0 || data.getLength() > Integer.MAX_VALUE) {
            LOG.log(System.Logger.Level.WARNING, "agent {0}: dropped a control message of {1} bytes that did not"
                    + " arrive whole", name, data.getLength());
            return UcsConstants.STATUS.UCS_OK;
        }
        ByteBuffer view = UcxUtils.getByteBufferView(data.getDataAddress(), data.getLength());
        Wire.Message m;
        try {
            ClusterAuth.Opened opened = auth.open(view, name); // the MAC first: nothing unverified is parsed
            m = Wire.decode(ByteBuffer.wrap(opened.message()));
            if (auth.authenticated()) {
                String replayed = replay.accept(m.sender(), opened.instance(), opened.counter());
                if (replayed != null) {
                    throw new Wire.MalformedException(0, replayed);
                }
            }
        } catch (Wire.MalformedException e) {
            long n = refusedMessages.incrementAndGet();
            if (n <= 10 || n % 1000 == 0) {
                LOG.log(System.Logger.Level.WARNING, "agent {0}: refused a control message ({1} so far; at byte"
                        + " {2}): {3}", name, n, e.offset, e.getMessage());
            }
            return UcsConstants.STATUS.UCS_OK;
        }
        progress.later(() -> {
            try {
                handle(m);
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "agent " + name + ": control message from " + m.sender()
                        + " failed", e);
            }
        });
        return UcsConstants.STATUS.UCS_OK;
    }

    private void handle(Wire.Message m) {
        switch (m.type()) {
            case Wire.ATTACH -> attached(m.sender(), m.id(), m.bytes());
            case Wire.ATTACH_ACK -> {
                PendingAttach pending = pendingAttaches.remove(m.id());
                if (pending != null && pending.peer.name.equals(m.sender())) {
                    Set<Long> live = new HashSet<>();
                    for (long id : m.ids()) {
                        live.add(id);
                    }
                    for (RemoteRegion r : pending.peer.regions) {
                        if (!live.contains(r.id)) {
                            r.revoked = true; // withdrawn between the metadata snapshot and the attach
                        }
                    }
                    pending.answered.complete(null);
                }
            }
            case Wire.REVOKE -> {
                RemotePeer peer = peers.get(m.sender());
                if (peer == null) {
                    for (RemotePeer p : retiring) {
                        if (p.name.equals(m.sender())) {
                            peer = p;
                        }
                    }
                }
                if (peer == null || peer.dead) {
                    return; // we detached (and said so) or it is gone: nothing of ours touches its memory
                }
                for (RemoteRegion r : peer.regions) {
                    if (m.regionId() == Wire.ALL_REGIONS || r.id == m.regionId()) {
                        r.revoked = true;
                    }
                }
                peer.pendingAcks.add(new long[] {m.id(), m.regionId()});
                answerRevokes(peer);
            }
            case Wire.REVOKE_ACK -> {
                RevokeRound round = rounds.get(m.id());
                if (round != null) {
                    round.left(m.sender());
                }
            }
            case Wire.NOTIFY -> {
                long size = m.bytes().length;
                boolean fits = inboxBytes.addAndGet(size) <= maxInboxBytes;
                if (fits) {
                    inbox.add(new Notification(m.sender(), m.bytes()));
                } else {
                    inboxBytes.addAndGet(-size);
                    long n = refusedNotifications.incrementAndGet();
                    if (n <= 10 || n % 1000 == 0) {
                        LOG.log(System.Logger.Level.WARNING, "agent {0}: refused a notification of {1} bytes from {2}"
                                + " ({3} so far): the inbox holds {4} of {5} bytes; drain it with"
                                + " drainNotifications()", name, size, m.sender(), n, inboxBytes.get(), maxInboxBytes);
                    }
                }
                Attached a = attached.get(m.sender());
                if (a != null && a.endpoint != null) {
                    answer(a, Wire.notifyAck(name, m.id(), fits ? Wire.NOTIFY_TAKEN : Wire.NOTIFY_INBOX_FULL),
                            e -> { });
                }
            }
            case Wire.NOTIFY_ACK -> {
                Transfer x = awaitingNotifyAck.get(m.id());
                if (x != null && x.peer.name.equals(m.sender())) {
                    awaitingNotifyAck.remove(m.id());
                    x.timeout.cancel(false);
                    finish(x, m.regionId() == Wire.NOTIFY_TAKEN ? null : new KvbmException(String.format(
                            Locale.ROOT, "the data of the %s landed but peer agent %s refused its notification of %d"
                                    + " bytes: its notification inbox is full (it has not drained the notifications"
                                    + " it holds)", x.transfer.operation(), x.peer.name, x.notification.length)));
                }
            }
            case Wire.DETACH -> {
                Attached a = attached.get(m.sender());
                if (a != null && a.attachment == m.id()) {
                    attached.remove(m.sender());
                    departed(a);
                }
            }
            default -> throw new IllegalStateException("unreachable: message type " + m.type());
        }
    }

    /**
     * Progress thread: a peer loaded our metadata. Connects back to it from the answer worker (see "Answering
     * attached peers") and says which of our regions are still live.
     */
    private void attached(String peerName, long attachment, byte[] peerAddress) {
        if (closed) {
            return;
        }
        Attached old = attached.remove(peerName);
        if (old != null) {
            departed(old);
        }
        Attached a = new Attached(peerName, attachment);
        try {
            a.endpoint = answerWorker.newEndpoint(new UcpEndpointParams().setUcpAddress(direct(peerAddress))
                    .setPeerErrorHandlingMode()
                    .setErrorHandler((ep, status, message) -> progress.later(() -> lost(a, message))));
        } catch (RuntimeException e) {
            // The peer's loadRemoteMetadata times out waiting for our answer and says so.
            LOG.log(System.Logger.Level.WARNING, "agent {0}: cannot connect back to {1}, which attached: {2}", name,
                    peerName, e.getMessage());
            return;
        }
        attached.put(peerName, a);
        long[] live = registrations.stream().mapToLong(r -> r.id).toArray();
        answer(a, Wire.attachAck(name, attachment, live), error -> {
            if (error != null) {
                lost(a, error);
            }
        });
    }

    /** Progress thread: the endpoint to an attached peer failed (the peer died, or closed its end). */
    private void lost(Attached a, String cause) {
        if (attached.get(a.name) == a) {
            LOG.log(System.Logger.Level.DEBUG, "agent {0}: lost attached peer {1}: {2}", name, a.name, cause);
            attached.remove(a.name);
        }
        departed(a);
    }

    /**
     * Progress thread: the peer no longer uses our memory (detached, failed, or replaced by a new attach); it leaves
     * every withdrawal round, and the endpoint to it is closed. Idempotent.
     */
    private void departed(Attached a) {
        for (RevokeRound round : List.copyOf(rounds.values())) {
            round.left(a.name);
        }
        if (a.endpoint != null) {
            // Forced: nothing more is owed to this peer, and a flush towards a dead one would never finish.
            closeEndpoint(a.endpoint, true);
            a.endpoint = null;
        }
    }

    /** Progress thread: answers each revoke whose regions this agent no longer has operations on. */
    private void answerRevokes(RemotePeer peer) {
        if (peer.pendingAcks.isEmpty() || peer.dead) {
            return;
        }
        for (Iterator<long[]> it = peer.pendingAcks.iterator(); it.hasNext(); ) {
            long[] ack = it.next();
            boolean busy = false;
            for (RemoteRegion r : peer.regions) {
                if ((ack[1] == Wire.ALL_REGIONS || r.id == ack[1]) && r.inFlight > 0) {
                    busy = true;
                    break;
                }
            }
            if (!busy) {
                it.remove();
                send(peer.control, peer.name, Wire.revokeAck(name, ack[0]), null);
            }
        }
    }

    /** Progress thread: asks every attached peer to stop using a region; the round completes when all have. */
    private RevokeRound startRound(long regionId) {
        RevokeRound round = new RevokeRound(IDS.incrementAndGet(), new HashSet<>(attached.keySet()));
        if (round.waiting.isEmpty()) {
            round.done.complete(null);
            return round;
        }
        rounds.put(round.id, round);
        round.done.whenComplete((v, t) -> rounds.remove(round.id)); // completed on this thread
        for (Attached a : List.copyOf(attached.values())) {
            answer(a, Wire.revoke(name, round.id, regionId), e -> {
                if (e != null) {
                    round.left(a.name);
                }
            });
        }
        return round;
    }

    /** Waits for a revoke round; peers that neither answered nor failed within the peer timeout are dropped. */
    private void awaitRound(RevokeRound round) {
        try {
            round.done.get(peerTimeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            progress.call(() -> {
                for (String peerName : List.copyOf(round.waiting)) {
                    LOG.log(System.Logger.Level.WARNING, "agent {0}: peer {1} did not confirm a withdrawal within"
                            + " the peer timeout {2}; disconnecting it", name, peerName, peerTimeout);
                    Attached a = attached.remove(peerName);
                    if (a != null) {
                        departed(a);
                    }
                    round.left(peerName);
                }
                return null;
            });
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Sends a control message to a peer that attached, on the answer worker; {@code then} as for {@link #send}. */
    private void answer(Attached a, byte[] message, java.util.function.Consumer<String> then) {
        answersInFlight++;
        send(a.endpoint, a.name, message, e -> {
            answersInFlight--;
            then.accept(e);
        });
    }

    /**
     * Sends a control message to the agent named {@code receiver}, in this agent's envelope (under a MAC when it
     * has a secret); {@code then} (if any) gets null or the failure, on the progress thread.
     */
    private void send(UcpEndpoint ep, String receiver, byte[] plain, java.util.function.Consumer<String> then) {
        byte[] message = auth.seal(plain, receiver);
        ByteBuffer buffer = ByteBuffer.allocateDirect(message.length).put(message).flip();
        sending.add(buffer);
        try {
            ep.sendAmNonBlocking(AM_ID, 0, 0, UcxUtils.getAddress(buffer), message.length, AM_SEND_FLAG_EAGER,
                    new UcxCallback() {
                        @Override
                        public void onSuccess(UcpRequest request) {
                            sending.remove(buffer);
                            if (then != null) {
                                then.accept(null);
                            }
                        }

                        @Override
                        public void onError(int status, String error) {
                            sending.remove(buffer);
                            if (then != null) {
                                then.accept(error + " (status " + status + ")");
                            }
                        }
                    });
        } catch (RuntimeException e) {
            sending.remove(buffer);
            if (then != null) {
                then.accept(e.getMessage());
            }
        }
    }

    @Override
    public List<Notification> drainNotifications() {
        List<Notification> out = new ArrayList<>();
        for (Notification n; (n = inbox.poll()) != null; ) {
            out.add(n);
            inboxBytes.addAndGet(-n.payload().length);
        }
        return out;
    }

    /** {@return notifications refused because the inbox was full} */
    long refusedNotifications() {
        return refusedNotifications.get();
    }

    /** {@return control messages refused: malformed, unauthenticated, of the other mode, or replayed} */
    long refusedMessages() {
        return refusedMessages.get();
    }

    /** {@return this agent's authentication} */
    ClusterAuth auth() {
        return auth;
    }

    // ---------------------------------------------------------------- close

    /**
     * Fails transfers still pending, tells attached peers to stop using this agent's memory (waiting up to the
     * peer timeout for their answers), lets this agent's own operations finish (up to the peer timeout), then
     * releases rkeys, endpoints, registrations, the worker and the context, in that order. Idempotent; returns
     * from any thread, a transfer's callback included.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        List<Lifetime.Hook> hooks = new ArrayList<>();
        try {
            RevokeRound round = progress.call(() -> {
                for (Transfer x : List.copyOf(transfers)) {
                    finish(x, new IllegalStateException("agent " + name + " closed before the transfer finished"));
                }
                for (PendingAttach p : pendingAttaches.values()) {
                    p.answered.completeExceptionally(new IllegalStateException("agent " + name + " closed"));
                }
                for (Transfer x : awaitingNotifyAck.values()) {
                    finish(x, new IllegalStateException("agent " + name + " closed before peer agent "
                            + x.peer.name + " took the notification"));
                }
                awaitingNotifyAck.clear();
                pendingAttaches.clear();
                return startRound(Wire.ALL_REGIONS);
            });
            awaitRound(round);
            CompletableFuture<Void> idle = progress.call(() -> {
                CompletableFuture<Void> f = new CompletableFuture<>();
                if (transfers.isEmpty()) {
                    f.complete(null);
                } else {
                    idleWaiters.add(f);
                }
                return f;
            });
            try {
                idle.get(peerTimeout.toNanos(), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                LOG.log(System.Logger.Level.WARNING, "agent {0}: transfers still in flight after the peer timeout;"
                        + " closing the worker cancels them", name);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } catch (ExecutionException e) {
                // not completed exceptionally
            }
            progress.call(() -> {
                for (RemotePeer peer : List.copyOf(peers.values())) {
                    retire(peer);
                }
                peers.clear();
                for (RemotePeer peer : List.copyOf(retiring)) {
                    peer.dead |= peer.flushesPending > 0; // whatever is left is abandoned with the worker
                    destroyIfIdle(peer);
                }
                for (Attached a : attached.values()) {
                    departed(a);
                }
                attached.clear();
                for (LocalRegion r : List.copyOf(registrations)) {
                    if (r.withdrawal == null) {
                        r.withdrawal = CompletableFuture.completedFuture(null);
                    }
                }
                for (LocalRegion r : registrations) {
                    hooks.add(r.hook);
                }
                // Withdrawals in progress on other threads find their registration deregistered here.
                for (LocalRegion r : List.copyOf(everRegistered)) {
                    deregister(r);
                }
                registrations.clear();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
                while (!closingEndpoints.stream().allMatch(UcpRequest::isCompleted) && System.nanoTime() < deadline) {
                    try {
                        progress.progressWorkers();
                    } catch (Exception e) {
                        LOG.log(System.Logger.Level.DEBUG, "progress while closing: " + e.getMessage());
                    }
                }
                return null;
            });
        } catch (IllegalStateException stopped) {
            LOG.log(System.Logger.Level.WARNING, "agent " + name + ": progress thread gone while closing", stopped);
        } finally {
            progress.shutdown();
            if (!progress.isProgressThread()) {
                try {
                    progress.join(TimeUnit.SECONDS.toMillis(10));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            completions.shutdown();
            timer.shutdownNow();
        }
        hooks.forEach(Lifetime.Hook::close);
    }

    /**
     * Progress thread, when it stops: waits (briefly) for the endpoint closes still in progress, then destroys the
     * answer worker, the main worker and the context.
     */
    private void destroyWorker() {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (pendingCloses() > 0 && System.nanoTime() < deadline) {
            try {
                if (progress.progressWorkers() == 0) {
                    Thread.onSpinWait();
                }
            } catch (Exception e) {
                LOG.log(System.Logger.Level.DEBUG, "progress while closing: " + e.getMessage());
            }
        }
        long pending = pendingCloses();
        if (pending > 0) {
            // Closes stuck behind operations to a peer that died: their flush never completes, and destroying the
            // worker discards them (UCX logs what it discards).
            LOG.log(System.Logger.Level.DEBUG, "agent {0}: {1} endpoint close(s) to unreachable peers did not finish;"
                    + " the worker discards them", name, pending);
        }
        progress.workerDestroyed();
        for (UcpWorker w : List.of(answerWorker, worker)) {
            try {
                w.close();
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "UCX worker close: " + e.getMessage());
            }
        }
        try {
            if (ownContext) {
                context.close();
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "UCX context close: " + e.getMessage());
        } finally {
            OPEN.decrementAndGet();
        }
    }

    private long pendingCloses() {
        return closingEndpoints.stream().filter(r -> r != null && !r.isCompleted()).count();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("agent " + name + " is closed");
        }
    }

    private void awaitQuietly(CompletableFuture<Void> future, String what) {
        long warnEvery = Math.max(peerTimeout.toNanos(), TimeUnit.SECONDS.toNanos(1));
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    future.get(warnEvery, TimeUnit.NANOSECONDS);
                    return;
                } catch (TimeoutException e) {
                    LOG.log(System.Logger.Level.WARNING, "agent {0}: still waiting for {1}", name, what);
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    return;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static byte[] copy(ByteBuffer buffer) {
        ByteBuffer b = buffer.duplicate();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }

    private static ByteBuffer direct(byte[] bytes) {
        return ByteBuffer.allocateDirect(bytes.length).put(bytes).flip();
    }

    @Override
    public String toString() {
        return "UcxAgent[" + name + (closed ? ", closed]" : "]");
    }

    // ---------------------------------------------------------------- state

    /** One of this agent's registrations. */
    private final class LocalRegion implements Registration {
        final long id;
        final MemoryRegion region;
        final MemType memType;
        final long deviceId;
        Lifetime.Hook hook;
        UcpMemory memory; // progress thread
        byte[] rkey;
        int holds; // progress thread: transfers of this agent not yet finished by UCX
        final List<CompletableFuture<Void>> drainWaiters = new ArrayList<>();
        CompletableFuture<Void> withdrawal; // progress thread: set when the withdrawal starts
        boolean deregistered;
        boolean borrowed; // the memory handle belongs to a UcxHostStorage

        LocalRegion(long id, MemoryRegion region, MemType memType, long deviceId) {
            this.id = id;
            this.region = region;
            this.memType = memType;
            this.deviceId = deviceId;
        }

        CompletableFuture<Void> drained() {
            CompletableFuture<Void> f = new CompletableFuture<>();
            if (holds == 0) {
                f.complete(null);
            } else {
                drainWaiters.add(f);
            }
            return f;
        }

        @Override
        public MemoryRegion region() {
            return region;
        }

        @Override
        public MemType memType() {
            return memType;
        }

        @Override
        public long deviceId() {
            return deviceId;
        }

        @Override
        public void close() {
            withdraw(this);
            hook.close();
        }
    }

    /** A peer whose metadata this agent loaded. */
    private static final class RemotePeer {
        final String name;
        UcpEndpoint data;
        UcpEndpoint control;
        long attachment;
        int flushesPending; // flush requests posted on the data endpoint whose callback has not run
        final List<RemoteRegion> regions = new ArrayList<>();
        final Set<Transfer> transfers = new LinkedHashSet<>();
        final List<long[]> pendingAcks = new ArrayList<>(); // {round, region id}
        boolean dead;
        String deathCause;
        boolean retired;
        boolean destroyed;

        RemotePeer(String name) {
            this.name = name;
        }
    }

    /** A region of a peer, with its unpacked rkey. */
    private static final class RemoteRegion {
        final long id;
        final MemType memType;
        final MemoryRegion region;
        final UcpRemoteKey rkey;
        boolean revoked;
        int inFlight;

        RemoteRegion(UcxMetadata.Region r, UcpRemoteKey rkey) {
            this.id = r.id();
            this.memType = r.memType();
            this.region = r.region();
            this.rkey = rkey;
        }
    }

    /** A peer that loaded this agent's metadata, and the endpoint back to it (on the answer worker). */
    private static final class Attached {
        final String name;
        final long attachment;
        UcpEndpoint endpoint; // null once the peer departed

        Attached(String name, long attachment) {
            this.name = name;
            this.attachment = attachment;
        }
    }

    private record PendingAttach(long request, RemotePeer peer, CompletableFuture<Void> answered) {
    }

    /** The newest metadata loaded of a peer: its run (hex) and generation. */
    private record SeenMetadata(String run, long generation) {
    }

    /** A withdrawal's wait for the attached peers' answers. */
    private static final class RevokeRound {
        final long id;
        final Set<String> waiting;
        final CompletableFuture<Void> done = new CompletableFuture<>();

        RevokeRound(long id, Set<String> waiting) {
            this.id = id;
            this.waiting = waiting;
        }

        void left(String peer) {
            if (waiting.remove(peer) && waiting.isEmpty()) {
                done.complete(null);
            }
        }
    }

    /** One posted transfer. */
    private static final class Transfer {
        final AgentTransfer transfer;
        final RemotePeer peer;
        final byte[] notification;
        final CompletableFuture<Void> done;
        final Set<LocalRegion> locals = Collections.newSetFromMap(new IdentityHashMap<>());
        final Set<RemoteRegion> remotes = Collections.newSetFromMap(new IdentityHashMap<>());
        java.util.concurrent.ScheduledFuture<?> timeout;
        boolean ucxDone;
        boolean userDone;

        Transfer(AgentTransfer transfer, RemotePeer peer, byte[] notification, CompletableFuture<Void> done) {
            this.transfer = transfer;
            this.peer = peer;
            this.notification = notification;
            this.done = done;
        }
    }
}
