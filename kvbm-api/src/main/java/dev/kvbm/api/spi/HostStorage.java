package dev.kvbm.api.spi;

import java.lang.foreign.MemorySegment;

/**
 * Storage the CPU can load and store directly (system or pinned memory).
 */
public interface HostStorage extends Storage {

    /**
     * The allocation as a segment whose {@link MemorySegment#address()} equals {@code region().address()}. The
     * segment's scope ends when the storage is closed, so an access after close throws
     * {@link IllegalStateException} instead of touching freed memory.
     *
     * @return the allocation's bytes
     * @throws IllegalStateException when the storage is closed
     */
    MemorySegment segment();
}
