package dev.kvbm.backend.system;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs each batch on its threads (a batch of {@value #PARALLEL_THRESHOLD} bytes or more is cut into byte-balanced
 * parts, one per thread; the future completes when every part has, and fails with the first part's failure): the
 * batch's coalesced pairs are copied with {@link MemorySegment#copy}
 * between host segments, or with positional file I/O between a host segment and a {@link FileStorage}.
 *
 * <p>Between host memory and this backend's own disk storage a batch instead goes to a {@link DiskIo} engine
 * (io_uring, or a thread pool where io_uring is unavailable) with {@value DiskIo#DEFAULT_QUEUE_DEPTH} requests in
 * flight by default ({@value DiskIo#QUEUE_DEPTH_PROPERTY}), made on the first such batch. Both storages are leased
 * from submission until every request has finished; the future is completed on this executor's threads. Each part
 * holds a lease on both storages while it copies ({@link Lifetime}), so a storage closed mid-flight is freed only
 * after the part returned, and a part that starts after the close fails the batch with an
 * {@link IllegalStateException}; the segments' own bounds and liveness checks guard every access as well.
 */
final class HostCopyExecutor implements TransferExecutor {

    private static final AtomicInteger EXECUTORS = new AtomicInteger();

    /**
     * Batches of at least this many bytes are split across the executor's threads: one thread cannot saturate
     * memory bandwidth, and copies below HotSpot's large-copy threshold (about 2.5 MB) pay for reading each
     * destination line before writing it (see docs/performance.md).
     */
    static final long PARALLEL_THRESHOLD = 8L << 20;

    private final String name;
    private final int threads;
    private final ExecutorService pool;
    private final Set<Thread> poolThreads = ConcurrentHashMap.newKeySet();
    private final Object diskLock = new Object();
    private DiskIo disk; // guarded by diskLock
    private boolean closed; // guarded by diskLock

    HostCopyExecutor(String name, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("copy threads must be >= 1, got " + threads);
        }
        this.name = name;
        this.threads = threads;
        int id = EXECUTORS.incrementAndGet();
        AtomicInteger count = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, "kvbm-copy-" + id + "-" + count.incrementAndGet());
            t.setDaemon(true);
            poolThreads.add(t);
            return t;
        };
        this.pool = Executors.newFixedThreadPool(threads, factory);
    }

    static boolean supportsKinds(StorageKind source, StorageKind destination) {
        boolean srcHost = source.isHostAccessible();
        boolean dstHost = destination.isHostAccessible();
        boolean srcDisk = source.type() == StorageKind.Type.DISK;
        boolean dstDisk = destination.type() == StorageKind.Type.DISK;
        return (srcHost && dstHost) || (srcHost && dstDisk) || (srcDisk && dstHost);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean supports(StorageKind source, StorageKind destination) {
        return supportsKinds(source, destination);
    }

    @Override
    public CompletableFuture<Void> execute(TransferBatch batch) {
        if (pool.isShutdown()) {
            throw new IllegalStateException("executor " + name + " is closed");
        }
        Storage src = batch.source();
        Storage dst = batch.destination();
        if (!supports(src.kind(), dst.kind())) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s copies System/Pinned<->System/Pinned and System/Pinned<->Disk, not %s -> %s;"
                            + " Device memory is copied by the CUDA backend (kvbm-backend-cuda)",
                    name, src.kind(), dst.kind()));
        }
        List<RegionPair> pairs = batch.coalesced();
        if ((src instanceof HostStorage && dst instanceof DiskStorage)
                || (src instanceof DiskStorage && dst instanceof HostStorage)) {
            return toOrFromDisk(src, dst, pairs);
        }
        List<List<RegionPair>> parts = partition(pairs, batch.totalBytes() >= PARALLEL_THRESHOLD ? threads : 1);
        List<Runnable> copies = new ArrayList<>(parts.size());
        for (List<RegionPair> part : parts) {
            copies.add(plan(src, dst, part));
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        AtomicInteger remaining = new AtomicInteger(copies.size());
        if (copies.isEmpty()) {
            done.complete(null);
            return done;
        }
        int submitted = 0;
        try {
            for (Runnable copy : copies) {
                pool.execute(() -> {
                    try {
                        // Leases keep both storages allocated until this part returned (see Lifetime); a storage
                        // closed before the part starts fails it with IllegalStateException instead.
                        try (Lifetime.Lease s = src.acquire(); Lifetime.Lease d = dst.acquire()) {
                            copy.run();
                        }
                        if (remaining.decrementAndGet() == 0) {
                            done.complete(null);
                        }
                    } catch (Throwable t) {
                        // The first failure decides; the other parts finish their copies but cannot complete it.
                        done.completeExceptionally(t);
                    }
                });
                submitted++;
            }
        } catch (RejectedExecutionException e) {
            IllegalStateException closed = new IllegalStateException("executor " + name + " is closed", e);
            if (submitted == 0) {
                throw closed;
            }
            done.completeExceptionally(closed);
        }
        return done;
    }

    /** A host↔disk batch through the disk engine, many requests in flight; see the class comment. */
    private CompletableFuture<Void> toOrFromDisk(Storage src, Storage dst, List<RegionPair> pairs) {
        boolean write = dst instanceof DiskStorage;
        DiskStorage file = (DiskStorage) (write ? dst : src);
        HostStorage host = (HostStorage) (write ? src : dst);
        Lifetime.Lease hostLease;
        Lifetime.Lease fileLease;
        try {
            hostLease = host.acquire();
        } catch (IllegalStateException e) {
            return CompletableFuture.failedFuture(e);
        }
        try {
            fileLease = file.acquire();
        } catch (IllegalStateException e) {
            hostLease.close();
            return CompletableFuture.failedFuture(e);
        }
        CompletableFuture<Void> done;
        try {
            MemorySegment memory = host.segment();
            long hostBase = host.region().address();
            List<DiskIo.Op> ops = new ArrayList<>(pairs.size());
            for (RegionPair p : pairs) {
                long hostAddress = (write ? p.source() : p.destination()).address();
                long fileOffset = (write ? p.destination() : p.source()).address();
                MemorySegment slice = memory.asSlice(hostAddress - hostBase, p.source().size());
                file.check(write ? "write" : "read", fileOffset, slice);
                ops.add(new DiskIo.Op(file, write, fileOffset, slice));
            }
            done = diskEngine().submit(ops);
        } catch (RuntimeException e) {
            fileLease.close();
            hostLease.close();
            if (e instanceof IllegalStateException) {
                return CompletableFuture.failedFuture(e);
            }
            throw e;
        }
        CompletableFuture<Void> result = new CompletableFuture<>();
        done.whenComplete((ignored, failure) -> {
            Runnable finish = () -> {
                // Leases go before the future completes, so a callback may close either storage.
                fileLease.close();
                hostLease.close();
                if (failure == null) {
                    result.complete(null);
                } else {
                    result.completeExceptionally(failure);
                }
            };
            try {
                pool.execute(finish); // never on the engine's own thread: callbacks must not hold up the disk
            } catch (RejectedExecutionException e) {
                finish.run();
            }
        });
        return result;
    }

    private DiskIo diskEngine() {
        synchronized (diskLock) {
            if (closed) {
                throw new IllegalStateException("executor " + name + " is closed");
            }
            if (disk == null) {
                disk = DiskIo.create(name);
            }
            return disk;
        }
    }

    /** The disk engine's name ({@code io_uring} or {@code threads}) and queue depth, or null before the first disk batch. */
    String diskEngineDescription() {
        synchronized (diskLock) {
            return disk == null ? null : disk.engine() + " x" + disk.queueDepth();
        }
    }

    /**
     * Cuts {@code pairs} into at most {@code parts} lists of nearly equal byte counts, splitting a pair where a
     * boundary falls inside it. Together the lists copy exactly the bytes of {@code pairs}.
     */
    static List<List<RegionPair>> partition(List<RegionPair> pairs, int parts) {
        long total = 0;
        for (RegionPair p : pairs) {
            total += p.source().size();
        }
        if (parts <= 1 || total == 0) {
            return pairs.isEmpty() ? List.of() : List.of(pairs);
        }
        long share = (total + parts - 1) / parts;
        List<List<RegionPair>> out = new ArrayList<>(parts);
        List<RegionPair> current = new ArrayList<>();
        long room = share;
        for (RegionPair p : pairs) {
            long offset = 0;
            long size = p.source().size();
            while (offset < size) {
                long take = Math.min(room, size - offset);
                current.add(take == size ? p : new RegionPair(p.source().slice(offset, take),
                        p.destination().slice(offset, take)));
                offset += take;
                room -= take;
                if (room == 0) {
                    out.add(current);
                    current = new ArrayList<>();
                    room = share;
                }
            }
        }
        if (!current.isEmpty()) {
            out.add(current);
        }
        return out;
    }

    private static Runnable plan(Storage src, Storage dst, List<RegionPair> pairs) {
        if (src instanceof HostStorage s && dst instanceof HostStorage d) {
            return () -> hostToHost(s, d, pairs);
        }
        if (src instanceof HostStorage s && dst instanceof FileStorage d) {
            return () -> hostToFile(s, d, pairs);
        }
        if (src instanceof FileStorage s && dst instanceof HostStorage d) {
            return () -> fileToHost(s, d, pairs);
        }
        throw new IllegalArgumentException(String.format(Locale.ROOT,
                "cannot copy %s (%s) -> %s (%s): host storage must implement HostStorage and disk storage FileStorage",
                src.kind(), src.getClass().getName(), dst.kind(), dst.getClass().getName()));
    }

    private static void hostToHost(HostStorage src, HostStorage dst, List<RegionPair> pairs) {
        MemorySegment from = src.segment();
        MemorySegment to = dst.segment();
        long fromBase = src.region().address();
        long toBase = dst.region().address();
        for (RegionPair p : pairs) {
            MemorySegment.copy(from, p.source().address() - fromBase, to, p.destination().address() - toBase,
                    p.source().size());
        }
    }

    private static void hostToFile(HostStorage src, FileStorage dst, List<RegionPair> pairs) {
        MemorySegment from = src.segment();
        long fromBase = src.region().address();
        for (RegionPair p : pairs) {
            dst.write(p.destination().address(), from.asSlice(p.source().address() - fromBase, p.source().size()));
        }
    }

    private static void fileToHost(FileStorage src, HostStorage dst, List<RegionPair> pairs) {
        MemorySegment to = dst.segment();
        long toBase = dst.region().address();
        for (RegionPair p : pairs) {
            src.read(p.source().address(), to.asSlice(p.destination().address() - toBase, p.destination().size()));
        }
    }

    /**
     * Lets the batches already submitted finish, then stops the threads. Called on one of this executor's own
     * threads (from a completion callback) it returns at once: waiting there would wait for itself.
     */
    @Override
    public void close() {
        DiskIo engine;
        synchronized (diskLock) {
            closed = true;
            engine = disk;
        }
        if (engine != null) {
            engine.close(); // waits for the requests in flight; their completions still run on the pool
        }
        pool.shutdown();
        if (poolThreads.contains(Thread.currentThread())) {
            return;
        }
        boolean interrupted = false;
        while (true) {
            try {
                if (pool.awaitTermination(1, TimeUnit.SECONDS)) {
                    break;
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "HostCopyExecutor[" + name + "]";
    }
}
