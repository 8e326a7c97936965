package com.example.kvbm.shm;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.StorageAccounting;
import dev.kvbm.api.spi.StorageCapabilities;
import dev.kvbm.api.spi.StorageProvider;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;

/**
 * Host memory of a vendor kind of its own, {@code example-shm}: it travels as System memory on the wire and to the
 * agents, but in a JVM only this provider allocates it, so adding this jar moves no other caller onto it.
 */
public final class ShmStorageProvider implements StorageProvider {
    /** The kind this backend adds. */
    public static final StorageKind KIND = StorageKind.vendor("example-shm", StorageKind.Type.SYSTEM, 0);

    private final StorageAccounting accounting = new StorageAccounting();

    @Override
    public String name() {
        return "example-shm-memory";
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
    public boolean supports(StorageKind kind) {
        return kind.equals(KIND);
    }

    @Override
    public List<StorageKind> kinds() {
        return List.of(KIND);
    }

    /** What the kit holds this provider to, on both of its paths. */
    @Override
    public StorageCapabilities capabilities(StorageKind kind) {
        return new StorageCapabilities(64 * 1024, 256L << 20, true);
    }

    @Override
    public long defaultAlignment() {
        return 4096;
    }

    @Override
    public HostStorage allocate(StorageKind kind, long size, long alignment) {
        StorageProvider.checkAllocation(name(), kind, supports(kind), size, alignment);
        Arena arena = Arena.ofShared(); // zeroed, freed when the arena closes
        MemorySegment segment;
        try {
            segment = arena.allocate(size, alignment);
        } catch (OutOfMemoryError | IllegalArgumentException e) {
            arena.close(); // nothing counted, nothing left open
            throw new KvbmException(String.format("could not allocate %d bytes of %s memory aligned to %d (%d bytes"
                    + " already outstanding): %s", size, KIND, alignment, accounting.bytes(), e.getMessage()), e);
        }
        accounting.allocated(size);
        return new Shm(arena, segment, accounting);
    }

    @Override
    public long bytesOutstanding() {
        return accounting.bytes();
    }

    @Override
    public long allocationsOutstanding() {
        return accounting.allocations();
    }

    /** One allocation: its lifetime frees the arena only after withdrawals ran and leases were released. */
    private static final class Shm implements HostStorage {
        private final Arena arena;
        private final MemorySegment segment;
        private final StorageAccounting accounting;
        private final Lifetime lifetime;

        Shm(Arena arena, MemorySegment segment, StorageAccounting accounting) {
            this.arena = arena;
            this.segment = segment;
            this.accounting = accounting;
            this.lifetime = new Lifetime(this::toString);
        }

        @Override
        public MemorySegment segment() {
            if (!lifetime.isOpen()) {
                throw new IllegalStateException(this + " is closed");
            }
            return segment;
        }

        @Override
        public StorageKind kind() {
            return KIND;
        }

        @Override
        public MemoryRegion region() {
            return new MemoryRegion(segment.address(), segment.byteSize());
        }

        @Override
        public boolean isClosed() {
            return lifetime.isClosed();
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
            if (lifetime.close(arena::close)) {
                accounting.released(segment.byteSize());
            }
        }

        @Override
        public String toString() {
            return String.format("example-shm storage [0x%x, %d bytes]", segment.address(), segment.byteSize());
        }
    }
}
