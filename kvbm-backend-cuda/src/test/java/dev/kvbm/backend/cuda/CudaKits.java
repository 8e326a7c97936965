package dev.kvbm.backend.cuda;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.spi.TransferExecutorProvider;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.tck.Bytes;
import dev.kvbm.tck.StorageVerification;
import dev.kvbm.tck.TransferExecutorVerification;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The kit's verifications wired to this backend, for a driver given as a probe: the system's {@code libcuda.so.1}
 * (skipped with the probe's reason where there is no GPU) or the stand-in (a test double). Device memory, which
 * the CPU cannot reach, is read and written through the driver's synchronous {@code cuMemcpy}.
 */
final class CudaKits {
    private CudaKits() {
    }

    /** One set of providers per driver, so that a verification's accounting checks see one provider throughout. */
    record Providers(CudaPinnedStorageProvider pinned, CudaDeviceStorageProvider device, StorageProvider system) {
        StorageProvider of(StorageKind kind) {
            return switch (kind.type()) {
                case PINNED -> pinned;
                case DEVICE -> device;
                case SYSTEM -> system;
                case DISK -> throw new IllegalArgumentException("no disk here");
            };
        }
    }

    private static final Map<CudaDriver.Probe, Providers> PROVIDERS = new ConcurrentHashMap<>();
    private static final StorageProvider SYSTEM = Backends.shared().storageProvider(StorageKind.SYSTEM);

    static Providers providers(CudaDriver.Probe probe) {
        return PROVIDERS.computeIfAbsent(probe, p -> new Providers(new CudaPinnedStorageProvider(p, false),
                new CudaDeviceStorageProvider(p), SYSTEM));
    }

    static void write(CudaDriver.Probe probe, Storage storage, long offset, byte[] bytes) {
        if (storage.kind().type() != StorageKind.Type.DEVICE) {
            Bytes.write(storage, offset, bytes);
            return;
        }
        CudaDriver driver = probe.require("cuda-device");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staged = arena.allocate(Math.max(1, bytes.length));
            MemorySegment.copy(MemorySegment.ofArray(bytes), 0, staged, 0, bytes.length);
            driver.makeCurrent(storage.kind().deviceId());
            driver.memcpy(storage.region().address() + offset, staged.address(), bytes.length);
        }
    }

    static byte[] read(CudaDriver.Probe probe, Storage storage, long offset, int length) {
        if (storage.kind().type() != StorageKind.Type.DEVICE) {
            return Bytes.read(storage, offset, length);
        }
        CudaDriver driver = probe.require("cuda-device");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment staged = arena.allocate(Math.max(1, length));
            driver.makeCurrent(storage.kind().deviceId());
            driver.memcpy(staged.address(), storage.region().address() + offset, length);
            return staged.asSlice(0, length).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** Storage rules for one kind. */
    abstract static class StorageKit extends StorageVerification {
        private final Supplier<CudaDriver.Probe> probe;
        private final StorageKind kind;
        StorageKit(Supplier<CudaDriver.Probe> probe, StorageKind kind) {
            this.probe = probe;
            this.kind = kind;
        }

        @Override
        protected StorageProvider provider() {
            return providers(probe.get()).of(kind);
        }

        @Override
        protected StorageKind kind() {
            return kind;
        }



        @Override
        protected void write(Storage storage, long offset, byte[] bytes) {
            CudaKits.write(probe.get(), storage, offset, bytes);
        }

        @Override
        protected byte[] read(Storage storage, long offset, int length) {
            return CudaKits.read(probe.get(), storage, offset, length);
        }
    }

    /** Executor rules for one pair of kinds. */
    abstract static class ExecutorKit extends TransferExecutorVerification {
        private final Supplier<CudaDriver.Probe> probe;
        private final Supplier<TransferExecutorProvider> executors;
        private final StorageKind source;
        private final StorageKind destination;

        ExecutorKit(Supplier<CudaDriver.Probe> probe, Supplier<TransferExecutorProvider> executors,
                    StorageKind source, StorageKind destination) {
            this.probe = probe;
            this.executors = executors;
            this.source = source;
            this.destination = destination;
        }

        @Override
        protected TransferExecutorProvider executorProvider() {
            return executors.get();
        }

        @Override
        protected StorageProvider sourceProvider() {
            return providers(probe.get()).of(source);
        }

        @Override
        protected StorageKind sourceKind() {
            return source;
        }

        @Override
        protected StorageProvider destinationProvider() {
            return providers(probe.get()).of(destination);
        }

        @Override
        protected StorageKind destinationKind() {
            return destination;
        }

        @Override
        protected void write(Storage storage, long offset, byte[] bytes) {
            CudaKits.write(probe.get(), storage, offset, bytes);
        }

        @Override
        protected byte[] read(Storage storage, long offset, int length) {
            return CudaKits.read(probe.get(), storage, offset, length);
        }
    }
}
