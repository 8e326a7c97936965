package dev.kvbm.tck;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentDescriptor;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.AgentTransfer;
import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.Notification;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageCapabilities;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;
import dev.kvbm.api.spi.TransferExecutorProvider;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * Test doubles of every SPI, for testing the kit itself: correct ones (which must pass every rule) and, through
 * their flags, deliberately broken ones (which must fail a named rule). They keep memory in arenas and find it by
 * address in a registry, so even a broken double never touches memory outside an allocation.
 */
final class TestDoubles {
    private TestDoubles() {
    }

    /** Live host segments by start address: how the doubles turn a region back into bounds-checked memory. */
    private static final Map<Long, MemorySegment> LIVE = new ConcurrentHashMap<>();

    static MemorySegment resolve(MemoryRegion region) {
        for (MemorySegment s : LIVE.values()) {
            long offset = region.address() - s.address();
            if (offset >= 0 && offset + region.size() <= s.byteSize()) {
                return s.asSlice(offset, region.size());
            }
        }
        throw new IllegalStateException(region + " is not inside any live test allocation");
    }

    static boolean isLive(MemoryRegion region) {
        try {
            resolve(region);
            return true;
        } catch (IllegalStateException e) {
            return false;
        }
    }

    /** What a broken {@link ArenaStorageProvider} gets wrong on purpose. */
    enum StorageDefect {
        /** Ignores every alignment (rule 1.1). */
        IGNORES_ALIGNMENT,
        /** Honours alignment up to 4096 only, although it declares 64 KiB (rule 1.1 with the declared maximum). */
        IGNORES_ALIGNMENT_ABOVE_4096,
        /** A second close counts the storage again (rule 1.4). */
        CLOSE_COUNTS_TWICE,
        /** Hands out memory from a pool whose free-slot search races, so two live storages share a slot (1.12). */
        RACY_POOL,
        /** Declares zeroed memory and returns memory full of an earlier allocation's bytes (rule 1.13). */
        NOT_ZEROED,
        /** Says it is available but every allocation throws (rule 1.14). */
        CANNOT_ALLOCATE,
        /** Allocates a vendor kind of another vendor because it compares kind.type() only (rule 1.9). */
        CHECKS_TYPE_ONLY,
        /** Lets the arena's OutOfMemoryError out of an allocation that cannot be had, arena left open (rule 1.15). */
        OOM_ESCAPES
    }

    /**
     * {@code size} bytes from {@code arena}, or a {@link dev.kvbm.api.KvbmException} (the arena closed) when the
     * memory cannot be had: what a provider does with a size no machine has.
     */
    static MemorySegment allocateOrRefuse(Arena arena, long size, long alignment, String what) {
        try {
            return arena.allocate(size, alignment);
        } catch (OutOfMemoryError | IllegalArgumentException e) {
            arena.close();
            throw new dev.kvbm.api.KvbmException(what + ": could not allocate " + size + " bytes: " + e.getMessage(),
                    e);
        }
    }

    /** Host memory in a shared arena per allocation (or from a pool). A defect breaks it on purpose. */
    static class ArenaStorageProvider implements StorageProvider {
        static final int POOL_SLOTS = 64;
        static final long POOL_SLOT = 16 * 1024 + 64;
        final StorageDefect defect;
        final AtomicLong bytes = new AtomicLong();
        final AtomicLong count = new AtomicLong();
        private final boolean[] used = new boolean[POOL_SLOTS]; // the racy pool's slots: read and written unlocked
        private volatile MemorySegment pool;

        ArenaStorageProvider() {
            this(null);
        }

        ArenaStorageProvider(StorageDefect defect) {
            this.defect = defect;
        }

        @Override
        public String name() {
            return "test-arena";
        }

        @Override
        public String backend() {
            return "test";
        }

        @Override
        public Optional<Throwable> unavailabilityCause() {
            return Optional.empty();
        }

        @Override
        public boolean supports(StorageKind kind) {
            return defect == StorageDefect.CHECKS_TYPE_ONLY ? kind.type() == StorageKind.Type.SYSTEM
                    : kind.equals(StorageKind.SYSTEM);
        }

        @Override
        public long defaultAlignment() {
            return 64;
        }

        /** 64 KiB alignment, 64 MiB at once, zeroed. */
        @Override
        public StorageCapabilities capabilities(StorageKind kind) {
            return new StorageCapabilities(64 * 1024, 64L << 20, true);
        }

        @Override
        public HostStorage allocate(StorageKind kind, long size, long alignment) {
            StorageProvider.checkAllocation(name(), kind, supports(kind), size, alignment);
            if (defect == StorageDefect.CANNOT_ALLOCATE) {
                throw new dev.kvbm.api.KvbmException("test-arena: no memory device behind this provider");
            }
            Arena arena = Arena.ofShared();
            MemorySegment segment;
            Runnable release = () -> { };
            if (defect == StorageDefect.RACY_POOL && size <= POOL_SLOT - 64 && alignment <= 64) {
                int slot = racyFreeSlot();
                // The slot's memory, scoped to this storage's arena so that 1.5 sees it refused after close.
                segment = pool().asSlice(slot * POOL_SLOT, size).reinterpret(arena, null);
                release = () -> used[slot] = false;
            } else if (defect == StorageDefect.IGNORES_ALIGNMENT) {
                segment = allocateOrRefuse(arena, size + 1, 16, "test-arena").asSlice(1, size);
            } else if (defect == StorageDefect.IGNORES_ALIGNMENT_ABOVE_4096 && alignment > 4096) {
                MemorySegment wide = allocateOrRefuse(arena, size + 4096, 4096, "test-arena");
                segment = wide.asSlice(wide.address() % alignment == 0 ? 4096 : 0, size);
            } else if (defect == StorageDefect.OOM_ESCAPES) {
                segment = arena.allocate(size, alignment);
            } else {
                segment = allocateOrRefuse(arena, size, alignment, "test-arena");
            }
            if (defect == StorageDefect.NOT_ZEROED) {
                segment.fill((byte) 0x5a); // what an allocator reusing freed memory unzeroed leaves
            }
            bytes.addAndGet(size);
            count.incrementAndGet();
            MemorySegment memory = segment;
            Runnable freeSlot = release;
            if (defect != StorageDefect.RACY_POOL) {
                LIVE.put(memory.address(), memory);
            }
            return new HostStorage() {
                private final Lifetime lifetime = new Lifetime(() -> "test-arena storage of " + size + " bytes");
                private volatile boolean closed;

                @Override
                public Lifetime.Lease acquire() {
                    return lifetime.acquire();
                }

                @Override
                public Lifetime.Hook onClose(String holder, Runnable withdraw) {
                    return lifetime.onClose(holder, withdraw);
                }

                @Override
                public MemorySegment segment() {
                    if (closed) {
                        throw new IllegalStateException("closed");
                    }
                    return memory;
                }

                @Override
                public StorageKind kind() {
                    return StorageKind.SYSTEM;
                }

                @Override
                public MemoryRegion region() {
                    return new MemoryRegion(memory.address(), size);
                }

                @Override
                public boolean isClosed() {
                    return closed;
                }

                @Override
                public synchronized void close() {
                    if (closed && defect == StorageDefect.CLOSE_COUNTS_TWICE) { // counts a second close again
                        bytes.addAndGet(-size);
                        count.decrementAndGet();
                        return;
                    }
                    lifetime.close(() -> {
                        LIVE.remove(memory.address());
                        freeSlot.run();
                        arena.close();
                        closed = true;
                        bytes.addAndGet(-size);
                        count.decrementAndGet();
                    });
                }

                @Override
                public String toString() {
                    return String.format(java.util.Locale.ROOT, "test-arena storage [0x%x, %d bytes]", memory.address(),
                            size);
                }
            };
        }

        private MemorySegment pool() {
            MemorySegment p = pool;
            if (p == null) {
                synchronized (this) {
                    if (pool == null) {
                        pool = Arena.global().allocate(POOL_SLOTS * POOL_SLOT, 4096);
                    }
                    p = pool;
                }
            }
            return p;
        }

        /** The racy part: finds a free slot, pauses as a busy allocator would, then takes it; nothing is locked. */
        private int racyFreeSlot() {
            while (true) {
                for (int i = 0; i < POOL_SLOTS; i++) {
                    if (!used[i]) {
                        LockSupport.parkNanos(50_000);
                        used[i] = true;
                        return i;
                    }
                }
                Thread.onSpinWait();
            }
        }

        @Override
        public long bytesOutstanding() {
            return bytes.get();
        }

        @Override
        public long allocationsOutstanding() {
            return count.get();
        }
    }

    /** Copies host to host on the caller's thread; {@code shortBy} bytes short of each pair when broken. */
    /**
     * Disk storage that behaves like a file opened with O_DIRECT: it moves whole 512-byte units only, so a write
     * that covers part of a unit reads the unit, patches it and writes it back. The correct double does that under
     * a lock; the broken one does not, and loses a neighbour's write that lands in between (the pause widens the
     * window the way a disk's latency does).
     */
    static final class UnitFileProvider implements StorageProvider {
        private static final int UNIT = 512;
        final boolean lockPartialUnits;
        final AtomicLong bytes = new AtomicLong();
        final AtomicLong count = new AtomicLong();

        UnitFileProvider(boolean lockPartialUnits) {
            this.lockPartialUnits = lockPartialUnits;
        }

        @Override
        public String name() {
            return "test-unit-file";
        }

        @Override
        public Optional<Throwable> unavailabilityCause() {
            return Optional.empty();
        }

        @Override
        public boolean supports(StorageKind kind) {
            return kind.type() == StorageKind.Type.DISK && !kind.isVendor();
        }

        @Override
        public long defaultAlignment() {
            return UNIT;
        }

        @Override
        public FileStorage allocate(StorageKind kind, long size, long alignment) {
            StorageProvider.checkAllocation(name(), kind, supports(kind), size, alignment);
            Arena arena = Arena.ofShared();
            long units = size / UNIT + (size % UNIT == 0 ? 0 : 1);
            MemorySegment file = allocateOrRefuse(arena, units > Long.MAX_VALUE / UNIT ? -1 : units * UNIT, UNIT,
                    "test-unit-file");
            bytes.addAndGet(size);
            count.incrementAndGet();
            Object unitLock = new Object();
            return new FileStorage() {
                private final Lifetime lifetime = new Lifetime(() -> "test-unit-file of " + size + " bytes");
                private volatile boolean closed;

                @Override
                public Path path() {
                    return Path.of("/test-unit-file");
                }

                @Override
                public long ioAlignment() {
                    return UNIT;
                }

                @Override
                public void read(long offset, MemorySegment destination) {
                    try (Lifetime.Lease ignored = lifetime.acquire()) {
                        MemorySegment.copy(file.asSlice(0, size), offset, destination, 0, destination.byteSize());
                    }
                }

                @Override
                public void write(long offset, MemorySegment source) {
                    try (Lifetime.Lease ignored = lifetime.acquire()) {
                        long end = offset + source.byteSize();
                        java.util.Objects.checkFromIndexSize(offset, source.byteSize(), size);
                        if (offset / UNIT == (end - 1) / UNIT && (offset % UNIT != 0 || end % UNIT != 0)) {
                            rewriteUnit(offset / UNIT * UNIT, offset, end, source, offset); // inside one unit
                            return;
                        }
                        long firstWhole = (offset + UNIT - 1) / UNIT * UNIT;
                        long lastWhole = end / UNIT * UNIT;
                        if (offset < firstWhole) {
                            rewriteUnit(firstWhole - UNIT, offset, firstWhole, source, offset);
                        }
                        MemorySegment.copy(source, firstWhole - offset, file, firstWhole, lastWhole - firstWhole);
                        if (lastWhole < end) {
                            rewriteUnit(lastWhole, lastWhole, end, source, offset);
                        }
                    }
                }

                /** Read-modify-write of the unit at {@code unit}, for the bytes [from, to) of this write. */
                private void rewriteUnit(long unit, long from, long to, MemorySegment source, long sourceOffset) {
                    if (lockPartialUnits) {
                        synchronized (unitLock) {
                            rewrite(unit, from, to, source, sourceOffset);
                        }
                    } else {
                        rewrite(unit, from, to, source, sourceOffset);
                    }
                }

                private void rewrite(long unit, long from, long to, MemorySegment source, long sourceOffset) {
                    byte[] copy = file.asSlice(unit, UNIT).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                    LockSupport.parkNanos(20_000);
                    MemorySegment.copy(source, from - sourceOffset, MemorySegment.ofArray(copy), from - unit, to - from);
                    MemorySegment.copy(copy, 0, file, java.lang.foreign.ValueLayout.JAVA_BYTE, unit, UNIT);
                }

                @Override
                public Lifetime.Lease acquire() {
                    return lifetime.acquire();
                }

                @Override
                public Lifetime.Hook onClose(String holder, Runnable withdraw) {
                    return lifetime.onClose(holder, withdraw);
                }

                @Override
                public StorageKind kind() {
                    return StorageKind.disk(0);
                }

                @Override
                public MemoryRegion region() {
                    return new MemoryRegion(0, size);
                }

                @Override
                public boolean isClosed() {
                    return closed;
                }

                @Override
                public synchronized void close() {
                    lifetime.close(() -> {
                        closed = true;
                        arena.close();
                        bytes.addAndGet(-size);
                        count.decrementAndGet();
                    });
                }
            };
        }

        @Override
        public long bytesOutstanding() {
            return bytes.get();
        }

        @Override
        public long allocationsOutstanding() {
            return count.get();
        }
    }

    /** What a broken {@link CopyExecutorProvider} gets wrong on purpose. */
    enum ExecutorDefect {
        /** Copies one byte short of every pair (rules 2.1-2.3). */
        ONE_BYTE_SHORT,
        /** close() stops its thread at once and drops the batches queued behind it (rule 2.9). */
        CLOSE_DROPS_QUEUED,
        /** Copies without leasing either storage (rule 2.10). */
        NO_LEASES,
        /** close() waits for its own thread to finish even when called on that thread, from a callback (2.11). */
        CLOSE_WAITS_FOR_ITSELF
    }

    /**
     * Copies host to host on a thread of its own, one batch after another, leasing both storages for each copy and
     * releasing the leases before completing the batch's future; close() lets the queued batches finish. A defect
     * breaks it on purpose.
     */
    static final class CopyExecutorProvider implements TransferExecutorProvider {
        final ExecutorDefect defect;

        CopyExecutorProvider() {
            this(null);
        }

        CopyExecutorProvider(ExecutorDefect defect) {
            this.defect = defect;
        }

        @Override
        public String name() {
            return "test-copy";
        }

        @Override
        public String backend() {
            return "test";
        }

        @Override
        public Optional<Throwable> unavailabilityCause() {
            return Optional.empty();
        }

        @Override
        public boolean supports(StorageKind source, StorageKind destination) {
            return source.equals(StorageKind.SYSTEM) && destination.equals(StorageKind.SYSTEM);
        }

        @Override
        public TransferExecutor create() {
            Thread[] worker = new Thread[1];
            java.util.concurrent.ExecutorService thread = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
                Thread t = new Thread(r, "test-copy");
                t.setDaemon(true);
                worker[0] = t;
                return t;
            });
            return new TransferExecutor() {
                @Override
                public String name() {
                    return "test-copy";
                }

                @Override
                public boolean supports(StorageKind source, StorageKind destination) {
                    return CopyExecutorProvider.this.supports(source, destination);
                }

                @Override
                public CompletableFuture<Void> execute(TransferBatch batch) {
                    if (thread.isShutdown()) {
                        throw new IllegalStateException("test-copy is closed");
                    }
                    CompletableFuture<Void> done = new CompletableFuture<>();
                    try {
                        thread.execute(() -> {
                            try {
                                copy(batch);
                            } catch (RuntimeException e) {
                                done.completeExceptionally(e);
                                return;
                            }
                            done.complete(null);
                        });
                    } catch (java.util.concurrent.RejectedExecutionException e) {
                        throw new IllegalStateException("test-copy is closed", e);
                    }
                    return done;
                }

                private void copy(TransferBatch batch) {
                    Lifetime.Lease s = defect == ExecutorDefect.NO_LEASES ? () -> { } : batch.source().acquire();
                    try (s; Lifetime.Lease d = defect == ExecutorDefect.NO_LEASES ? () -> { }
                            : batch.destination().acquire()) {
                        MemorySegment src = ((HostStorage) batch.source()).segment();
                        MemorySegment dst = ((HostStorage) batch.destination()).segment();
                        long shortBy = defect == ExecutorDefect.ONE_BYTE_SHORT ? 1 : 0;
                        for (RegionPair p : batch.coalesced()) {
                            MemorySegment.copy(src, p.source().address() - src.address(), dst,
                                    p.destination().address() - dst.address(), Math.max(0, p.source().size() - shortBy));
                        }
                    }
                }

                @Override
                public void close() {
                    if (defect == ExecutorDefect.CLOSE_DROPS_QUEUED) {
                        thread.shutdownNow(); // the queued batches' futures are never completed
                        return;
                    }
                    thread.shutdown();
                    boolean own = Thread.currentThread() == worker[0];
                    if (own && defect != ExecutorDefect.CLOSE_WAITS_FOR_ITSELF) {
                        return; // closed from a completion callback: the queued batches still run after it returns
                    }
                    try {
                        // The broken double waits for itself a little longer than the kit's timeout, then gives up.
                        long minutes = own ? 0 : 5;
                        long seconds = own ? TransferExecutorVerification.TIMEOUT_SECONDS + 5 : 0;
                        if (!thread.awaitTermination(minutes * 60 + seconds, java.util.concurrent.TimeUnit.SECONDS)
                                && !own) {
                            throw new IllegalStateException("test-copy: queued batches did not finish in 5 minutes");
                        }
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException("interrupted while closing test-copy", e);
                    }
                }
            };
        }
    }

    /**
     * Agents of one JVM; broken ones skip the remote bounds check, deliver notifications twice, or ignore the
     * lifetime of the storage they register (they keep serving a closed storage's region and report success
     * without moving its bytes, as an agent reading freed memory would).
     */
    static final class TestAgentProvider implements AgentProvider {
        static final Map<String, TestAgent> AGENTS = new ConcurrentHashMap<>();
        final boolean checkRemoteBounds;
        final int notificationCopies;
        final boolean honoursLifetime;

        TestAgentProvider(boolean checkRemoteBounds, int notificationCopies) {
            this(checkRemoteBounds, notificationCopies, true);
        }

        TestAgentProvider(boolean checkRemoteBounds, int notificationCopies, boolean honoursLifetime) {
            this.checkRemoteBounds = checkRemoteBounds;
            this.notificationCopies = notificationCopies;
            this.honoursLifetime = honoursLifetime;
        }

        @Override
        public String name() {
            return "test-agent";
        }

        @Override
        public Optional<Throwable> unavailabilityCause() {
            return Optional.empty();
        }

        @Override
        public Agent create(String agentName, Options options) {
            TestAgent agent = new TestAgent(agentName, this);
            AGENTS.put(agentName, agent);
            return agent;
        }
    }

    static final class TestAgent implements Agent {
        private final String name;
        private final TestAgentProvider config;
        private final List<MemoryRegion> registered = new java.util.concurrent.CopyOnWriteArrayList<>();
        private final Map<String, List<MemoryRegion>> peers = new ConcurrentHashMap<>();
        private final List<Notification> inbox = new java.util.concurrent.CopyOnWriteArrayList<>();
        private volatile boolean closed;

        TestAgent(String name, TestAgentProvider config) {
            this.name = name;
            this.config = config;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public Registration register(Storage storage, MemoryRegion region) {
            if (closed) {
                throw new IllegalStateException("closed");
            }
            MemType memType = MemType.of(storage.kind());
            long deviceId = 0;
            Lifetime.Hook hook = config.honoursLifetime
                    ? storage.onClose("test agent " + name, () -> {
                        synchronized (this) { // waits for a copy from this region (post holds the lock) to end
                            registered.remove(region);
                        }
                    }) : null;
            registered.add(region);
            return new Registration() {
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
                    registered.remove(region);
                    if (hook != null) {
                        hook.close();
                    }
                }
            };
        }

        @Override
        public String remoteAgentName(byte[] metadata) {
            String[] parts = new String(metadata, StandardCharsets.UTF_8).split(":");
            if (parts.length < 2 || !parts[0].equals("test-agent")) {
                throw new IllegalArgumentException("not test agent metadata");
            }
            return parts[1];
        }

        @Override
        public byte[] localMetadata() {
            StringBuilder text = new StringBuilder("test-agent:").append(name);
            for (MemoryRegion r : registered) {
                text.append(':').append(r.address()).append(',').append(r.size());
            }
            return text.toString().getBytes(StandardCharsets.UTF_8);
        }

        @Override
        public String loadRemoteMetadata(byte[] metadata) {
            String[] parts = new String(metadata, StandardCharsets.UTF_8).split(":");
            if (parts.length < 2 || !parts[0].equals("test-agent") || !TestAgentProvider.AGENTS.containsKey(parts[1])) {
                throw new IllegalArgumentException("not test agent metadata");
            }
            List<MemoryRegion> regions = new ArrayList<>();
            try {
                for (int i = 2; i < parts.length; i++) {
                    String[] r = parts[i].split(",");
                    regions.add(new MemoryRegion(Long.parseLong(r[0]), Long.parseLong(r[1])));
                }
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("not test agent metadata: " + e.getMessage(), e);
            }
            peers.put(parts[1], regions);
            return parts[1];
        }

        @Override
        public void invalidateRemote(String remoteAgent) {
            peers.remove(remoteAgent);
        }

        @Override
        public CompletableFuture<Void> post(AgentTransfer transfer) {
            if (closed) {
                throw new IllegalStateException("closed");
            }
            List<MemoryRegion> remoteRegions = peers.get(transfer.remoteAgent());
            if (remoteRegions == null) {
                throw new IllegalArgumentException("unknown peer " + transfer.remoteAgent());
            }
            check(transfer.local().descriptors(), registered);
            if (config.checkRemoteBounds) {
                check(transfer.remote().descriptors(), remoteRegions);
            }
            TestAgent peer = TestAgentProvider.AGENTS.get(transfer.remoteAgent());
            try {
                if (peer == null || peer.closed) {
                    throw new IllegalStateException("peer " + transfer.remoteAgent() + " is closed");
                }
                // Check and copy under the peer's lock, which its withdrawal takes: a region is never freed mid-copy.
                synchronized (config.honoursLifetime ? peer : new Object()) {
                    if (config.honoursLifetime) {
                        check(transfer.remote().descriptors(), peer.registered);
                    }
                    copy(transfer);
                }
                transfer.notificationBytes().ifPresent(bytes -> {
                    for (int i = 0; i < config.notificationCopies; i++) {
                        peer.inbox.add(new Notification(name, bytes));
                    }
                });
                return CompletableFuture.completedFuture(null);
            } catch (RuntimeException e) {
                return CompletableFuture.failedFuture(e);
            }
        }

        private void copy(AgentTransfer transfer) {
            for (int i = 0; i < transfer.local().descriptors().size(); i++) {
                MemoryRegion l = transfer.local().descriptors().get(i).region();
                MemoryRegion r = transfer.remote().descriptors().get(i).region();
                if (!config.honoursLifetime && (!isLive(l) || !isLive(r))) {
                    continue; // broken: "succeeds" on freed memory
                }
                MemorySegment local = resolve(l);
                MemorySegment remote = resolve(r);
                if (transfer.operation() == AgentTransfer.Operation.READ) {
                    local.copyFrom(remote);
                } else {
                    remote.copyFrom(local);
                }
            }
        }

        private static void check(List<AgentDescriptor> descriptors, List<MemoryRegion> regions) {
            for (AgentDescriptor d : descriptors) {
                if (regions.stream().noneMatch(r -> r.contains(d.region()))) {
                    throw new IllegalArgumentException(d.region() + " is outside registered memory");
                }
            }
        }

        @Override
        public List<Notification> drainNotifications() {
            List<Notification> out = new ArrayList<>(inbox);
            inbox.removeAll(out);
            return out;
        }

        @Override
        public void close() {
            closed = true;
            TestAgentProvider.AGENTS.remove(name, this);
        }
    }

    /** A FullyContiguous layout whose layer stride forgets the outer dimension when broken. */
    static Layout fullyContiguous(LayoutConfig c, MemoryRegion region, boolean broken) {
        long required = c.totalSize();
        if (region.size() < required) {
            throw new IllegalArgumentException("region has " + region.size() + " bytes, needs " + required);
        }
        long layerStride = broken ? c.regionSize() : c.regionSize() * c.outerDim();
        return new ArithmeticLayout(c, List.of(region), true, (b, l, o) -> region.address()
                + b * c.regionSize() * c.outerDim() * c.numLayers() + l * layerStride + o * c.regionSize());
    }

    static Layout layerSeparate(LayoutConfig c, BlockDimension dimension, List<MemoryRegion> layers) {
        long perLayer = c.regionSize() * c.outerDim() * c.numBlocks();
        if (layers.size() != c.numLayers() || layers.stream().anyMatch(r -> r.size() < perLayer)) {
            throw new IllegalArgumentException("need " + c.numLayers() + " regions of " + perLayer + " bytes");
        }
        boolean first = dimension == BlockDimension.BLOCK_IS_FIRST_DIM;
        return new ArithmeticLayout(c, layers, false, (b, l, o) -> layers.get(l).address()
                + (first ? b * c.regionSize() * c.outerDim() + o * c.regionSize()
                : b * c.regionSize() + o * c.regionSize() * c.numBlocks()));
    }

    interface AddressMath {
        long address(int block, int layer, int outer);
    }

    record ArithmeticLayout(LayoutConfig config, List<MemoryRegion> regions, boolean fullyContiguous, AddressMath math)
            implements Layout {
        @Override
        public MemoryRegion memoryRegion(int block, int layer, int outer) {
            if (block < 0 || block >= config.numBlocks() || layer < 0 || layer >= config.numLayers() || outer < 0
                    || outer >= config.outerDim()) {
                throw new IndexOutOfBoundsException("coordinate (" + block + ", " + layer + ", " + outer
                        + ") out of range");
            }
            return new MemoryRegion(math.address(block, layer, outer), config.regionSize());
        }

        @Override
        public long[] requiredAllocations() {
            return regions.stream().mapToLong(MemoryRegion::size).toArray();
        }

        @Override
        public boolean isFullyContiguous() {
            return fullyContiguous;
        }
    }
}
