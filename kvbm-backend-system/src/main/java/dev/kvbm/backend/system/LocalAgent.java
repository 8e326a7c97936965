package dev.kvbm.backend.system;

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

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Lock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * An agent whose peers live in the same JVM: READ and WRITE are memory copies between registered host regions.
 *
 * <p>Every descriptor is checked twice: when the transfer is posted (local ones against this agent's
 * registrations, remote ones against the peer's loaded metadata), and again when it runs, against both agents'
 * live registrations, under their read locks. Withdrawing a registration or closing an agent takes the write lock,
 * so it waits for copies in flight and later copies see the change; nothing is copied to or from memory that is no
 * longer registered. A registration belongs to a storage, and closing the storage withdraws it through that same
 * write lock before the memory is freed ({@link Lifetime}), so a registration seen under the read lock is memory
 * that is still allocated. Locks are taken in agent-creation order, so two agents copying to each other cannot deadlock;
 * a lock not obtained within the peer timeout fails the transfer. Thread-safe.
 */
final class LocalAgent implements Agent {

    /** Open agents of this JVM by name: how metadata finds its agent. */
    private static final Map<String, LocalAgent> DIRECTORY = new ConcurrentHashMap<>();
    private static final AtomicLong SEQUENCE = new AtomicLong();

    private final String name;
    private final long order = SEQUENCE.incrementAndGet();
    private final Duration peerTimeout;
    private final ExecutorService pool;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final List<LocalRegistration> registrations = new ArrayList<>(); // guarded by lock
    private final Map<String, Peer> peers = new ConcurrentHashMap<>();
    private final Queue<Notification> inbox = new ConcurrentLinkedQueue<>();
    private final Set<CompletableFuture<Void>> pending = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private record Peer(LocalAgent agent, List<LocalAgentMetadata.Entry> regions) {
    }

    private LocalAgent(String name, Duration peerTimeout, int threads) {
        this.name = name;
        this.peerTimeout = peerTimeout;
        AtomicInteger count = new AtomicInteger();
        this.pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "kvbm-local-agent-" + name + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    static LocalAgent open(String name, Duration peerTimeout, int threads) {
        if (name.getBytes(StandardCharsets.UTF_8).length > 0xFFFF) {
            throw new IllegalArgumentException("agent name is longer than 65535 UTF-8 bytes");
        }
        LocalAgent agent = new LocalAgent(name, peerTimeout, threads);
        if (DIRECTORY.putIfAbsent(name, agent) != null) {
            agent.pool.shutdown();
            throw new IllegalStateException("an open local agent is already named '" + name
                    + "'; agent names must be unique within the JVM");
        }
        return agent;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Registration register(Storage storage, MemoryRegion region) {
        Objects.requireNonNull(storage, "storage");
        Objects.requireNonNull(region, "region");
        MemType memType = MemType.of(storage.kind());
        if (memType != MemType.DRAM) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "the local agent reaches host memory (DRAM) only, not %s on %s; GPU memory and files across"
                            + " workers need the UCX agent (kvbm-backend-nixl)", memType, storage.kind()));
        }
        if (region.size() == 0 || !storage.region().contains(region)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "cannot register %s: a registration covers at least one byte inside its storage %s %s", region,
                    storage.kind(), storage.region()));
        }
        lock.writeLock().lock();
        try {
            ensureOpen();
            for (LocalRegistration r : registrations) {
                if (r.region.overlaps(region)) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "%s overlaps %s, already registered with agent %s; registrations must be disjoint",
                            region, r.region, name));
                }
            }
            LocalRegistration registration = new LocalRegistration(region, memType);
            // Throws IllegalStateException for closed storage; from now on its close withdraws this registration
            // (under the write lock, so after the copies in flight) before the memory is freed.
            registration.hook = storage.onClose("registration with local agent " + name, registration::close);
            registrations.add(registration);
            return registration;
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public byte[] localMetadata() {
        lock.readLock().lock();
        try {
            ensureOpen();
            return new LocalAgentMetadata(name, registeredEntries()).encode();
        } finally {
            lock.readLock().unlock();
        }
    }

    @Override
    public String remoteAgentName(byte[] metadata) {
        return LocalAgentMetadata.decode(metadata).agentName();
    }

    @Override
    public String loadRemoteMetadata(byte[] metadata) {
        ensureOpen();
        LocalAgentMetadata md = LocalAgentMetadata.decode(metadata);
        LocalAgent agent = DIRECTORY.get(md.agentName());
        if (agent == null) {
            throw new IllegalArgumentException("no open local agent is named '" + md.agentName()
                    + "' in this JVM; the local agent reaches agents of the same process only");
        }
        peers.put(md.agentName(), new Peer(agent, md.entries()));
        return md.agentName();
    }

    @Override
    public void invalidateRemote(String remoteAgent) {
        peers.remove(remoteAgent);
    }

    @Override
    public CompletableFuture<Void> post(AgentTransfer transfer) {
        ensureOpen();
        Peer peer = peers.get(transfer.remoteAgent());
        if (peer == null) {
            throw new IllegalArgumentException("unknown remote agent '" + transfer.remoteAgent()
                    + "': load its metadata first (it may have been invalidated)");
        }
        requireDram("local", transfer.local());
        requireDram("remote", transfer.remote());
        lock.readLock().lock();
        try {
            requireInside("local", transfer.local(), registeredEntries(), name);
        } finally {
            lock.readLock().unlock();
        }
        requireInside("remote", transfer.remote(), peer.regions, peer.agent.name);
        CompletableFuture<Void> done = new CompletableFuture<>();
        pending.add(done);
        done.whenComplete((v, t) -> pending.remove(done));
        try {
            pool.execute(() -> run(transfer, peer.agent, done));
        } catch (RejectedExecutionException e) {
            done.completeExceptionally(new IllegalStateException("agent " + name + " closed", e));
        }
        return done;
    }

    private void run(AgentTransfer transfer, LocalAgent peer, CompletableFuture<Void> done) {
        if (done.isDone()) {
            return;
        }
        LocalAgent first = order <= peer.order ? this : peer;
        LocalAgent second = first == this ? peer : this;
        Lock a = first.lock.readLock();
        Lock b = second.lock.readLock();
        try {
            if (!a.tryLock(peerTimeout.toNanos(), TimeUnit.NANOSECONDS)) {
                throw new TimeoutException(timeoutMessage(first));
            }
            try {
                if (second != first && !b.tryLock(peerTimeout.toNanos(), TimeUnit.NANOSECONDS)) {
                    throw new TimeoutException(timeoutMessage(second));
                }
                try {
                    copy(transfer, peer);
                } finally {
                    if (second != first) {
                        b.unlock();
                    }
                }
            } finally {
                a.unlock();
            }
            transfer.notificationBytes().ifPresent(bytes -> peer.inbox.add(new Notification(name, bytes)));
            done.complete(null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            done.completeExceptionally(new KvbmException("transfer interrupted: " + transfer, e));
        } catch (Throwable t) {
            done.completeExceptionally(t);
        }
    }

    private String timeoutMessage(LocalAgent agent) {
        return String.format(Locale.ROOT, "agent %s did not admit the transfer within the peer timeout %s",
                agent.name, peerTimeout);
    }

    /** Runs with both agents' read locks held. */
    private void copy(AgentTransfer transfer, LocalAgent peer) {
        if (closed) {
            throw new IllegalStateException("agent " + name + " closed before the transfer ran");
        }
        if (peer.closed) {
            throw new KvbmException("peer agent " + peer.name + " closed before the transfer ran");
        }
        requireInside("local", transfer.local(), registeredEntries(), name);
        requireInside("remote", transfer.remote(), peer.registeredEntries(), peer.name);
        List<AgentDescriptor> local = transfer.local().descriptors();
        List<AgentDescriptor> remote = transfer.remote().descriptors();
        boolean read = transfer.operation() == AgentTransfer.Operation.READ;
        for (int i = 0; i < local.size(); i++) {
            MemoryRegion l = local.get(i).region();
            MemoryRegion r = remote.get(i).region();
            if (l.size() == 0) {
                continue;
            }
            MemorySegment localBytes = MemorySegment.ofAddress(l.address()).reinterpret(l.size());
            MemorySegment remoteBytes = MemorySegment.ofAddress(r.address()).reinterpret(r.size());
            if (read) {
                MemorySegment.copy(remoteBytes, 0, localBytes, 0, l.size());
            } else {
                MemorySegment.copy(localBytes, 0, remoteBytes, 0, l.size());
            }
        }
    }

    /** This agent's registrations as metadata entries; the caller holds the lock. */
    private List<LocalAgentMetadata.Entry> registeredEntries() {
        List<LocalAgentMetadata.Entry> entries = new ArrayList<>(registrations.size());
        for (LocalRegistration r : registrations) {
            entries.add(new LocalAgentMetadata.Entry(r.memType, r.region, 0));
        }
        return entries;
    }

    private static void requireDram(String side, DescriptorList list) {
        if (list.memType() != MemType.DRAM) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s descriptors are %s; the local agent moves DRAM only", side, list.memType()));
        }
    }

    private static void requireInside(String side, DescriptorList list, List<LocalAgentMetadata.Entry> regions,
                                      String agent) {
        List<AgentDescriptor> descriptors = list.descriptors();
        for (int i = 0; i < descriptors.size(); i++) {
            MemoryRegion d = descriptors.get(i).region();
            boolean inside = false;
            for (LocalAgentMetadata.Entry e : regions) {
                if (e.memType() == list.memType() && e.region().contains(d)) {
                    inside = true;
                    break;
                }
            }
            if (!inside) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "%s descriptor %d %s lies outside the memory agent %s has registered", side, i, d, agent));
            }
        }
    }

    @Override
    public List<Notification> drainNotifications() {
        List<Notification> out = new ArrayList<>();
        for (Notification n; (n = inbox.poll()) != null; ) {
            out.add(n);
        }
        return out;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("agent " + name + " is closed");
        }
    }

    /** Fails transfers not yet run, waits for copies in flight, withdraws every registration. Idempotent. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            DIRECTORY.remove(name, this);
            pool.shutdown();
            for (LocalRegistration r : registrations) {
                r.closed = true;
                r.hook.close();
            }
            registrations.clear();
            peers.clear();
        } finally {
            lock.writeLock().unlock();
        }
        for (CompletableFuture<Void> f : pending) {
            f.completeExceptionally(new IllegalStateException("agent " + name + " closed before the transfer ran"));
        }
    }

    @Override
    public String toString() {
        return "LocalAgent[" + name + (closed ? ", closed]" : "]");
    }

    private final class LocalRegistration implements Registration {
        private final MemoryRegion region;
        private final MemType memType;
        private Lifetime.Hook hook; // set once, under the agent's write lock
        private boolean closed; // guarded by the agent's lock

        LocalRegistration(MemoryRegion region, MemType memType) {
            this.region = region;
            this.memType = memType;
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
            return 0;
        }

        @Override
        public void close() {
            lock.writeLock().lock();
            try {
                if (!closed) {
                    closed = true;
                    registrations.remove(this);
                    hook.close();
                }
            } finally {
                lock.writeLock().unlock();
            }
        }
    }
}
