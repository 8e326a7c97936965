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
 * <p><b>Lifetime.</b> Memory is never freed under a reader (the rule is written out in {@link Lifetime}, which
 * implementations embed). Code that touches the bytes other than through this storage's own methods — an
 * executor's copy, an agent's transfer — holds a {@linkplain #acquire() lease} while it does; whatever makes the
 * memory reachable from elsewhere — an {@link Agent} registration — attaches a {@linkplain #onClose withdrawal}.
 * {@link #close()} then refuses new leases and registrations, runs the withdrawals (peers can no longer reach the
 * memory), waits for the leases in progress, and only then frees. A transfer racing a close therefore completes
 * or fails with an {@link IllegalStateException}; it never reads or writes freed memory. The documented way to
 * retire a layout that peers may still use is {@code TransportManager.unregisterLayout} followed by close.
 *
 * <p>{@link #close()} is idempotent and throws no checked exception. After close, every access method throws
 * {@link IllegalStateException}. Metadata accessors ({@link #kind()}, {@link #region()}) keep working so a closed
 * storage can still be described in a message. Storage may be used from any thread.
 */
public interface Storage extends AutoCloseable {

    /** {@return where this storage lives} */
    StorageKind kind();

    /** {@return the allocation's extent in its address space} */
    MemoryRegion region();

    /** {@return the number of bytes} */
    default long size() {
        return region().size();
    }

    /** {@return true once {@link #close()} has completed} */
    boolean isClosed();

    /**
     * Pins the memory for one access that bypasses this storage's methods (a copy through its address or
     * segment): until the lease is closed, {@link #close()} waits instead of freeing. Hold it for the access only.
     *
     * @return the lease; closing it (idempotent) lets a waiting close go on
     * @throws IllegalStateException when the storage is closing or closed
     */
    Lifetime.Lease acquire();

    /**
     * Attaches a withdrawal that {@link #close()} runs before it frees the memory; an agent registering this
     * storage uses it to withdraw the registration. Closing the returned hook detaches it.
     *
     * @param holder   what holds the memory, for messages
     * @param withdraw run once by close, before the memory is freed; it may block until the holder's accesses end
     * @return the hook; closing it detaches the withdrawal
     * @throws IllegalStateException when the storage is closing or closed: closed memory cannot be registered
     */
    Lifetime.Hook onClose(String holder, Runnable withdraw);

    /**
     * Frees the storage, after withdrawing its registrations and waiting for accesses in progress; idempotent.
     */
    @Override
    void close();
}
