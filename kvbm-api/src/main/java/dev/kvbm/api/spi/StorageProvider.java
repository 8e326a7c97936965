package dev.kvbm.api.spi;

import dev.kvbm.api.StorageKind;

/**
 * Allocates {@link Storage} of the kinds it supports. Found through {@link java.util.ServiceLoader}.
 *
 * <p>A provider counts what it has handed out and not yet seen closed, so a test can prove nothing leaked:
 * {@link #bytesOutstanding()} and {@link #allocationsOutstanding()} return to their earlier values once every
 * storage is closed. Implementations are thread-safe.
 */
public interface StorageProvider extends BackendProvider {

    /**
     * Tests whether this provider allocates a kind.
     *
     * @param kind the kind asked for; for disk, any fd (a new file is opened)
     * @return true when this provider can allocate storage of {@code kind}
     */
    boolean supports(StorageKind kind);

    /** {@return the alignment used by {@link #allocate(StorageKind, long)}, e.g. the page size} */
    long defaultAlignment();

    /**
     * Allocates {@code size} bytes whose start is a multiple of {@code alignment}.
     *
     * @param kind      where the storage lives
     * @param size      bytes, at least 1
     * @param alignment a power of two
     * @return the new storage; the caller closes it
     * @throws IllegalArgumentException      when {@code size <= 0}, the alignment is not a power of two, or the
     *                                       kind is not supported; the message says what would be right
     * @throws UnsupportedOperationException when the provider is unavailable on this machine
     * @throws dev.kvbm.api.KvbmException     when the memory or file cannot be had
     */
    Storage allocate(StorageKind kind, long size, long alignment);

    /**
     * Allocates {@code size} bytes at {@link #defaultAlignment()}.
     *
     * @param kind where the storage lives
     * @param size bytes, at least 1
     * @return the new storage; the caller closes it
     */
    default Storage allocate(StorageKind kind, long size) {
        return allocate(kind, size, defaultAlignment());
    }

    /**
     * A provider of the same kind that places its storage in {@code directory}: for file-backed storage (the disk
     * tier), whose files need a chosen file system.
     *
     * @param directory an existing, writable directory
     * @return a new provider with its own accounting
     * @throws UnsupportedOperationException when this provider's storage does not live in files (the default)
     */
    default StorageProvider inDirectory(java.nio.file.Path directory) {
        throw new UnsupportedOperationException("storage provider " + name() + " does not keep its storage in"
                + " files, so it takes no directory; give a directory to a disk provider only");
    }

    /** {@return bytes allocated by this provider and not yet closed} */
    long bytesOutstanding();

    /** {@return allocations made by this provider and not yet closed} */
    long allocationsOutstanding();
}
