package dev.kvbm.backend.system;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageAccounting;
import dev.kvbm.api.spi.StorageCapabilities;
import dev.kvbm.api.spi.StorageProvider;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.Optional;

/**
 * Allocates {@link StorageKind#SYSTEM} memory through {@link Arena}: zeroed, aligned to a page (4096 bytes) unless
 * asked otherwise. Available everywhere; needs no native-access flag.
 *
 * <p>Arena memory is not limited by {@code -XX:MaxDirectMemorySize}; only the operating system bounds it. An
 * allocation the system refuses fails with a {@link KvbmException} saying how much was asked and how much this
 * provider already holds.
 */
public final class SystemStorageProvider implements StorageProvider {

    /** Default alignment: one page. */
    public static final long PAGE_SIZE = 4096;

    private final StorageAccounting accounting = new StorageAccounting();

    @Override
    public String name() {
        return "system-memory";
    }

    @Override
    public String backend() {
        return "system";
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return Optional.empty();
    }

    @Override
    public boolean supports(StorageKind kind) {
        return kind.equals(StorageKind.SYSTEM);
    }

    /** Any alignment up to a 2 MiB huge page, 1 GiB at once, and zeroed memory (the arena zeroes it). */
    @Override
    public StorageCapabilities capabilities(StorageKind kind) {
        return new StorageCapabilities(1L << 21, 1L << 30, true);
    }

    @Override
    public long defaultAlignment() {
        return PAGE_SIZE;
    }

    @Override
    public Storage allocate(StorageKind kind, long size, long alignment) {
        StorageProvider.checkAllocation(name(), kind, supports(kind), size, alignment);
        Arena arena = Arena.ofShared();
        MemorySegment segment;
        try {
            segment = arena.allocate(size, alignment);
        } catch (OutOfMemoryError | IllegalArgumentException e) {
            arena.close();
            throw new KvbmException(String.format(Locale.ROOT,
                    "could not allocate %d bytes of System memory aligned to %d (%d bytes already outstanding from"
                            + " this provider): %s",
                    size, alignment, accounting.bytes(),
                    e.getMessage() != null ? e.getMessage() : "the size plus alignment exceeds what can be mapped"),
                    e);
        }
        accounting.allocated(size);
        return new SystemStorage(arena, segment, accounting);
    }

    @Override
    public long bytesOutstanding() {
        return accounting.bytes();
    }

    @Override
    public long allocationsOutstanding() {
        return accounting.allocations();
    }
}
