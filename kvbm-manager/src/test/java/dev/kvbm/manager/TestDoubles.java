package dev.kvbm.manager;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;
import dev.kvbm.api.spi.TransferExecutorProvider;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;

/**
 * Test doubles for the manager's logic above the SPIs. They stand in for nothing the issue asks to build: the
 * real system backend moves every byte, and these only fail chosen batches or relabel host memory as a device.
 */
final class TestDoubles {
    private TestDoubles() {
    }

    /**
     * TEST DOUBLE: the real executors of another provider, except that a batch matching {@code poison} fails
     * (before any byte moves) with an "injected" error.
     */
    static final class FaultyExecutors implements TransferExecutorProvider {
        private final TransferExecutorProvider real;
        volatile Predicate<TransferBatch> poison = b -> false;
        final AtomicInteger failedBatches = new AtomicInteger();

        FaultyExecutors(TransferExecutorProvider real) {
            this.real = real;
        }

        @Override
        public String name() {
            return "faulty-" + real.name();
        }

        @Override
        public Optional<Throwable> unavailabilityCause() {
            return real.unavailabilityCause();
        }

        @Override
        public boolean supports(StorageKind source, StorageKind destination) {
            return real.supports(source, destination);
        }

        @Override
        public TransferExecutor create() {
            TransferExecutor inner = real.create();
            return new TransferExecutor() {
                @Override
                public String name() {
                    return FaultyExecutors.this.name();
                }

                @Override
                public boolean supports(StorageKind source, StorageKind destination) {
                    return inner.supports(source, destination);
                }

                @Override
                public CompletableFuture<Void> execute(TransferBatch batch) {
                    if (poison.test(batch)) {
                        failedBatches.incrementAndGet();
                        return CompletableFuture.failedFuture(new KvbmException("injected failure of a "
                                + batch.source().kind() + " -> " + batch.destination().kind() + " batch"));
                    }
                    return inner.execute(batch);
                }

                @Override
                public void close() {
                    inner.close();
                }
            };
        }
    }

    /** {@return a predicate true for a batch of {@code from} with a source region overlapping {@code block}} */
    static Predicate<TransferBatch> readsFrom(Storage from, List<MemoryRegion> block) {
        return batch -> batch.source() == from && batch.pairs().stream().map(RegionPair::source)
                .anyMatch(r -> block.stream().anyMatch(b -> r.address() < b.address() + b.size()
                        && b.address() < r.address() + r.size()));
    }

    /**
     * TEST DOUBLE: "device memory" that is host memory from a real provider, labelled {@code Device(0)} so the
     * manager treats it as a GPU tier; with {@link FakeDeviceCopies} it lets the tests see which paths a GPU tier
     * takes (the bounce buffer to and from disk) on a machine without a GPU.
     */
    static final class FakeDeviceMemory implements StorageProvider {
        private final StorageProvider host;

        FakeDeviceMemory(StorageProvider host) {
            this.host = host;
        }

        @Override
        public String name() {
            return "fake-device-memory";
        }

        @Override
        public Optional<Throwable> unavailabilityCause() {
            return Optional.empty();
        }

        @Override
        public boolean supports(StorageKind kind) {
            return kind.type() == StorageKind.Type.DEVICE;
        }

        @Override
        public long defaultAlignment() {
            return host.defaultAlignment();
        }

        @Override
        public Storage allocate(StorageKind kind, long size, long alignment) {
            return new FakeDeviceStorage((HostStorage) host.allocate(StorageKind.SYSTEM, size, alignment));
        }

        @Override
        public long bytesOutstanding() {
            return host.bytesOutstanding();
        }

        @Override
        public long allocationsOutstanding() {
            return host.allocationsOutstanding();
        }
    }

    /** Host memory labelled Device(0): not a {@link HostStorage}, so nothing but a copy reaches its bytes. */
    record FakeDeviceStorage(HostStorage inner) implements Storage {
        @Override
        public StorageKind kind() {
            return StorageKind.device(0);
        }

        @Override
        public MemoryRegion region() {
            return inner.region();
        }

        @Override
        public boolean isClosed() {
            return inner.isClosed();
        }

        @Override
        public Lifetime.Lease acquire() {
            return inner.acquire();
        }

        @Override
        public Lifetime.Hook onClose(String holder, Runnable withdraw) {
            return inner.onClose(holder, withdraw);
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    /**
     * TEST DOUBLE: copies between fake device memory and host memory (and device to device), but not to or from
     * disk, as a GPU without GPUDirect Storage: the manager must go through its bounce buffer for those.
     */
    static final class FakeDeviceCopies implements TransferExecutorProvider {
        final AtomicInteger batches = new AtomicInteger();

        @Override
        public String name() {
            return "fake-device-copies";
        }

        @Override
        public Optional<Throwable> unavailabilityCause() {
            return Optional.empty();
        }

        @Override
        public boolean supports(StorageKind source, StorageKind destination) {
            boolean srcDevice = source.type() == StorageKind.Type.DEVICE;
            boolean dstDevice = destination.type() == StorageKind.Type.DEVICE;
            return (srcDevice || dstDevice) && (srcDevice || source.isHostAccessible())
                    && (dstDevice || destination.isHostAccessible());
        }

        @Override
        public TransferExecutor create() {
            return new TransferExecutor() {
                @Override
                public String name() {
                    return FakeDeviceCopies.this.name();
                }

                @Override
                public boolean supports(StorageKind source, StorageKind destination) {
                    return FakeDeviceCopies.this.supports(source, destination);
                }

                @Override
                public CompletableFuture<Void> execute(TransferBatch batch) {
                    batches.incrementAndGet();
                    return CompletableFuture.runAsync(() -> {
                        HostStorage src = host(batch.source());
                        HostStorage dst = host(batch.destination());
                        for (RegionPair p : batch.pairs()) {
                            MemorySegment.copy(src.segment(), p.source().address() - src.region().address(),
                                    dst.segment(), p.destination().address() - dst.region().address(),
                                    p.source().size());
                        }
                    }, Thread::startVirtualThread);
                }

                @Override
                public void close() {
                }
            };
        }

        private static HostStorage host(Storage s) {
            return s instanceof FakeDeviceStorage f ? f.inner() : (HostStorage) s;
        }
    }
}
