package dev.kvbm.backend.system;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs each batch on one of its threads: the batch's coalesced pairs are copied with {@link MemorySegment#copy}
 * between host segments, or with positional file I/O between a host segment and a {@link FileStorage}. The
 * segments' own bounds and liveness checks guard every access, so a storage closed mid-flight fails the batch
 * with an {@link IllegalStateException} instead of touching freed memory.
 */
final class HostCopyExecutor implements TransferExecutor {

    private static final AtomicInteger EXECUTORS = new AtomicInteger();

    private final String name;
    private final ExecutorService pool;

    HostCopyExecutor(String name, int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("copy threads must be >= 1, got " + threads);
        }
        this.name = name;
        int id = EXECUTORS.incrementAndGet();
        AtomicInteger count = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, "kvbm-copy-" + id + "-" + count.incrementAndGet());
            t.setDaemon(true);
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
        Storage src = batch.source();
        Storage dst = batch.destination();
        if (!supports(src.kind(), dst.kind())) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s copies System/Pinned<->System/Pinned and System/Pinned<->Disk, not %s -> %s;"
                            + " Device memory is copied by the CUDA backend (kvbm-backend-cuda)",
                    name, src.kind(), dst.kind()));
        }
        Runnable copy = plan(src, dst, batch);
        try {
            return CompletableFuture.runAsync(copy, pool);
        } catch (RejectedExecutionException e) {
            throw new IllegalStateException("executor " + name + " is closed", e);
        }
    }

    private static Runnable plan(Storage src, Storage dst, TransferBatch batch) {
        if (src instanceof HostStorage s && dst instanceof HostStorage d) {
            return () -> hostToHost(s, d, batch.coalesced());
        }
        if (src instanceof HostStorage s && dst instanceof FileStorage d) {
            return () -> hostToFile(s, d, batch.coalesced());
        }
        if (src instanceof FileStorage s && dst instanceof HostStorage d) {
            return () -> fileToHost(s, d, batch.coalesced());
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

    @Override
    public void close() {
        pool.shutdown();
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
