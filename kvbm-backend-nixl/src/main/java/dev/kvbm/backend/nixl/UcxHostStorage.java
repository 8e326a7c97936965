package dev.kvbm.backend.nixl;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Lifetime;
import org.openucx.jucx.ucp.UcpMemory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Host memory UCX allocated in the shared context. Its segment's scope ends at close, so the JDK refuses access
 * after it; the memory is unmapped only after registrations are withdrawn and leases released ({@link Lifetime}).
 * An agent on the shared context registers it by reusing its UCX memory handle, whose rkey peers on this host
 * reach through shared memory.
 */
final class UcxHostStorage implements HostStorage {
    private final UcpMemory memory;
    private final MemoryRegion region;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment segment;
    private final Runnable released;
    private final Lifetime lifetime = new Lifetime(this::toString);
    private volatile boolean closed;

    UcxHostStorage(UcpMemory memory, long size, Runnable released) {
        this.memory = memory;
        this.region = new MemoryRegion(memory.getAddress(), size);
        this.segment = MemorySegment.ofAddress(memory.getAddress()).reinterpret(size, arena, null);
        this.released = released;
    }

    /** The UCX memory handle, for an agent on the shared context. */
    UcpMemory memory() {
        return memory;
    }

    @Override
    public StorageKind kind() {
        return StorageKind.SYSTEM;
    }

    @Override
    public MemoryRegion region() {
        return region;
    }

    @Override
    public MemorySegment segment() {
        if (closed) {
            throw new IllegalStateException("ucx-host storage " + region + " is closed");
        }
        return segment;
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
            arena.close();
            closed = true;
            memory.deregister();
            released.run();
        });
    }

    @Override
    public String toString() {
        return "ucx-host storage " + region + (closed ? " (closed)" : "");
    }
}
