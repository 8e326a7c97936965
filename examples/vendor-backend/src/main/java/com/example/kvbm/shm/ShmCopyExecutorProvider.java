package com.example.kvbm.shm;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;
import dev.kvbm.api.spi.TransferExecutorProvider;

import java.lang.foreign.MemorySegment;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Copies between this backend's memory and System memory (any {@link HostStorage}), on threads of its own: each copy
 * leases both storages for as long as it touches them and releases the leases before completing the future;
 * {@link TransferExecutor#close()} lets every accepted batch finish, and returns at once when called on one of its
 * threads (from a completion callback).
 */
public final class ShmCopyExecutorProvider implements TransferExecutorProvider {

    @Override
    public String name() {
        return "example-shm-copy";
    }

    @Override
    public String backend() {
        return "example";
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return Optional.empty();
    }

    @Override
    public boolean supports(StorageKind source, StorageKind destination) {
        return copies(source) && copies(destination) && (source.equals(ShmStorageProvider.KIND)
                || destination.equals(ShmStorageProvider.KIND));
    }

    private static boolean copies(StorageKind kind) {
        return kind.equals(ShmStorageProvider.KIND) || kind.equals(StorageKind.SYSTEM);
    }

    @Override
    public TransferExecutor create() {
        return new Executor();
    }

    private final class Executor implements TransferExecutor {
        /** Its own threads: a close called on one (from a completion callback) must not wait for itself. */
        private final java.util.Set<Thread> own = java.util.concurrent.ConcurrentHashMap.newKeySet();
        private final ExecutorService threads = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "example-shm-copy");
            t.setDaemon(true);
            own.add(t);
            return t;
        });

        @Override
        public String name() {
            return ShmCopyExecutorProvider.this.name();
        }

        @Override
        public boolean supports(StorageKind source, StorageKind destination) {
            return ShmCopyExecutorProvider.this.supports(source, destination);
        }

        @Override
        public CompletableFuture<Void> execute(TransferBatch batch) {
            if (!supports(batch.source().kind(), batch.destination().kind())) {
                throw new IllegalArgumentException(name() + " copies example-shm <-> System, not "
                        + batch.source().kind() + " -> " + batch.destination().kind());
            }
            CompletableFuture<Void> done = new CompletableFuture<>();
            try {
                threads.execute(() -> {
                    try {
                        copy(batch);
                    } catch (RuntimeException e) {
                        done.completeExceptionally(e);
                        return;
                    }
                    done.complete(null); // after the leases are gone, so a callback may close either storage
                });
            } catch (RejectedExecutionException e) {
                throw new IllegalStateException(name() + " is closed", e);
            }
            return done;
        }

        private static void copy(TransferBatch batch) {
            try (Lifetime.Lease s = batch.source().acquire(); Lifetime.Lease d = batch.destination().acquire()) {
                MemorySegment src = ((HostStorage) batch.source()).segment();
                MemorySegment dst = ((HostStorage) batch.destination()).segment();
                for (RegionPair p : batch.coalesced()) {
                    MemorySegment.copy(src, p.source().address() - src.address(), dst,
                            p.destination().address() - dst.address(), p.source().size());
                }
            }
        }

        @Override
        public void close() {
            threads.shutdown(); // accepted batches still run
            if (own.contains(Thread.currentThread())) {
                return; // closed from a completion callback: the batches still queued finish after it returns
            }
            try {
                if (!threads.awaitTermination(10, TimeUnit.MINUTES)) {
                    throw new IllegalStateException(name() + ": accepted batches did not finish within 10 minutes");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while " + name() + " finished its batches", e);
            }
        }
    }
}
