package dev.kvbm.backend.system;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.StorageAccounting;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Native host memory owned by its own shared arena: closing the storage frees exactly this allocation (after its
 * registrations are withdrawn and leased accesses finish), and the JDK then refuses every access through the
 * segment.
 */
final class SystemStorage implements HostStorage {
    private final Arena arena;
    private final MemorySegment segment;
    private final MemoryRegion region;
    private final StorageAccounting accounting;
    private final Lifetime lifetime = new Lifetime(this::toString);
    private volatile boolean closed;

    SystemStorage(Arena arena, MemorySegment segment, StorageAccounting accounting) {
        this.arena = arena;
        this.segment = segment;
        this.region = new MemoryRegion(segment.address(), segment.byteSize());
        this.accounting = accounting;
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
            throw new IllegalStateException("System storage " + region + " is closed");
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

    /** Withdraws registrations, waits for leased accesses, then frees the arena (see {@link Lifetime}). */
    @Override
    public void close() {
        lifetime.close(() -> {
            try {
                arena.close();
            } catch (IllegalStateException e) {
                throw new IllegalStateException("System storage " + region + " is still in use by a native call"
                        + " that took its segment without a lease; close it after that call returns", e);
            }
            closed = true;
            accounting.released(region.size());
        });
    }

    @Override
    public String toString() {
        return "SystemStorage" + region + (closed ? " (closed)" : "");
    }
}
