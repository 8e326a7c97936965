package dev.kvbm.api.spi;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;

/**
 * One allocation of some kind of memory (or one file), owned by whoever allocated it.
 *
 * <p>{@link #region()} gives the allocation's extent in its own address space: a virtual address for host
 * memory, a device address for GPU memory, file offsets starting at 0 for a file. What a caller can do with the
 * bytes depends on the storage's type: {@link HostStorage} exposes a {@link java.lang.foreign.MemorySegment},
 * {@link FileStorage} offers positional reads and writes; other storages (device memory) are reached only
 * through a {@link TransferExecutor} or an {@link Agent}.
 *
 * <p>{@link #close()} frees the memory. It is idempotent and throws no checked exception. After close, every
 * access method throws {@link IllegalStateException}; nothing ever reads freed memory. Metadata accessors
 * ({@link #kind()}, {@link #region()}) keep working so a closed storage can still be described in a message.
 * Storage may be used from any thread; close must not race with an access the caller still needs.
 */
public interface Storage extends AutoCloseable {

    /** Where this storage lives. */
    StorageKind kind();

    /** The allocation's extent in its address space. */
    MemoryRegion region();

    /** Number of bytes. */
    default long size() {
        return region().size();
    }

    /** True once {@link #close()} has completed. */
    boolean isClosed();

    /** Frees the storage; idempotent. */
    @Override
    void close();
}
