package com.example.vendor;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageProvider;

import java.util.List;
import java.util.Optional;

/**
 * A TEST DOUBLE of a third-party storage provider, in a package of its own (so it is not one of this project's
 * reference providers): it offers System memory, as a vendor's shared-memory jar might, and a vendor kind of its
 * own. It hands out the system backend's memory; only its name, package and kinds matter to the choice tests.
 */
public final class VendorHostMemory implements StorageProvider {
    /** The vendor kind it declares. */
    public static final StorageKind SHM = StorageKind.vendor("shm", StorageKind.Type.SYSTEM, 0);

    private final StorageProvider memory;
    private final Optional<Throwable> unavailable;

    /** @param memory where its bytes come from */
    public VendorHostMemory(StorageProvider memory) {
        this(memory, null);
    }

    /**
     * @param memory      where its bytes come from
     * @param unavailable why it cannot work here, or null when it can
     */
    public VendorHostMemory(StorageProvider memory, Throwable unavailable) {
        this.memory = memory;
        this.unavailable = Optional.ofNullable(unavailable);
    }

    /** Sorts before {@code system-memory} by name, which must not make it the default. */
    @Override
    public String name() {
        return "aaa-shm-memory";
    }

    @Override
    public String backend() {
        return "aaa-shm";
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return unavailable;
    }

    @Override
    public boolean supports(StorageKind kind) {
        return kind.equals(StorageKind.SYSTEM) || kind.equals(SHM);
    }

    @Override
    public List<StorageKind> kinds() {
        return List.of(StorageKind.SYSTEM, SHM);
    }

    @Override
    public long defaultAlignment() {
        return memory.defaultAlignment();
    }

    @Override
    public Storage allocate(StorageKind kind, long size, long alignment) {
        StorageProvider.checkAllocation(name(), kind, supports(kind), size, alignment);
        return memory.allocate(StorageKind.SYSTEM, size, alignment);
    }

    @Override
    public long bytesOutstanding() {
        return memory.bytesOutstanding();
    }

    @Override
    public long allocationsOutstanding() {
        return memory.allocationsOutstanding();
    }
}
