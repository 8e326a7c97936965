package dev.kvbm.backend.cuda;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageAccounting;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Memory the CUDA driver handed out: {@link Pinned} host memory (a {@link HostStorage}, whose segment ends with the
 * storage) or {@link Device} memory (reached only through the driver). Closing follows {@link Lifetime}: withdraw
 * registrations, wait for leased accesses (an executor's copy in flight holds one until its event completed), then
 * free with the driver and give the bytes back to the provider's count; idempotent.
 */
abstract sealed class CudaStorage implements Storage {
    private final StorageKind kind;
    private final MemoryRegion region;
    private final StorageAccounting accounting;
    private final Runnable free;
    private final Lifetime lifetime = new Lifetime(this::toString);
    private volatile boolean closed;

    private CudaStorage(StorageKind kind, MemoryRegion region, StorageAccounting accounting, Runnable free) {
        this.kind = kind;
        this.region = region;
        this.accounting = accounting;
        this.free = free;
    }

    @Override
    public StorageKind kind() {
        return kind;
    }

    @Override
    public MemoryRegion region() {
        return region;
    }

    @Override
    public boolean isClosed() {
        return closed;
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
    public void close() {
        lifetime.close(() -> {
            beforeFree();
            closed = true;
            try {
                free.run();
            } finally {
                accounting.released(region.size());
            }
        });
    }

    /** Runs first when the memory is freed (the pinned storage closes its segment's arena). */
    void beforeFree() {
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "[" + kind + " " + region + (closed ? ", closed]" : "]");
    }

    /** Page-locked host memory: the CPU reaches it through {@link #segment()}, the GPU by DMA. */
    static final class Pinned extends CudaStorage implements HostStorage {
        private final Arena arena = Arena.ofShared();
        private final MemorySegment segment;

        Pinned(MemoryRegion region, StorageAccounting accounting, Runnable free) {
            super(StorageKind.PINNED, region, accounting, free);
            this.segment = MemorySegment.ofAddress(region.address()).reinterpret(region.size(), arena, null);
        }

        @Override
        public MemorySegment segment() {
            if (isClosed()) {
                throw new IllegalStateException(this + " is closed");
            }
            return segment;
        }

        @Override
        void beforeFree() {
            try {
                arena.close();
            } catch (IllegalStateException e) {
                throw new IllegalStateException(this + " is still in use by a native call that took its segment"
                        + " without a lease; close it after that call returns", e);
            }
        }
    }

    /** GPU memory: its region is a device address, reached through the driver only. */
    static final class Device extends CudaStorage {
        Device(int device, MemoryRegion region, StorageAccounting accounting, Runnable free) {
            super(StorageKind.device(device), region, accounting, free);
        }
    }
}
