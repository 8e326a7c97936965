package dev.kvbm.api.spi;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Storage backed by a file (the disk tier). Its {@link #region()} is {@code [0, size)}: addresses are file offsets.
 *
 * <p>Reads and writes are positional and may run concurrently from several threads on disjoint ranges, aligned or not
 * (see {@link #ioAlignment()}): two writes to disjoint ranges that share an aligned unit must both land.
 */
public interface FileStorage extends Storage {

    /**
     * Where the file was created. A backend may unlink the file at once and keep only its descriptor (the system
     * backend does, so that nothing is left behind when a process dies); the path then names it in messages only.
     *
     * @return the file's path at creation
     */
    Path path();

    /**
     * Whether reads and writes bypass the kernel's page cache ({@code O_DIRECT} on Linux), so that a block offloaded
     * to disk does not also occupy host memory as cached file pages.
     *
     * @return {@code true} when I/O is direct; the default, for a backend that does not say, is {@code false}
     */
    default boolean directIo() {
        return false;
    }

    /**
     * The alignment, in bytes, that a file offset, a length and a host address all need for a read or write to go
     * straight between the file and host memory. Anything else still works — the storage stages it through an
     * aligned buffer of its own — but costs a copy (and, for a write that covers part of an aligned unit, a read of
     * that unit first). A layout on disk whose regions start and end on this alignment never pays it.
     *
     * @return a power of two; 1 when any offset, length and address are direct (the default)
     */
    default long ioAlignment() {
        return 1;
    }

    /**
     * Fills {@code destination} with the bytes at {@code [offset, offset + destination.byteSize())}.
     *
     * @param offset      byte offset in the file, relative to the start of the file
     * @param destination host memory the bytes are read into, all of it
     * @throws IndexOutOfBoundsException when the range is not inside the file's region
     * @throws IllegalStateException     when the storage is closed
     * @throws dev.kvbm.api.KvbmException when the read fails
     */
    void read(long offset, MemorySegment destination);

    /**
     * Writes all of {@code source} at {@code offset}.
     *
     * @param offset byte offset in the file, relative to the start of the file
     * @param source host memory whose bytes are written, all of it
     * @throws IndexOutOfBoundsException when the range is not inside the file's region
     * @throws IllegalStateException     when the storage is closed
     * @throws dev.kvbm.api.KvbmException when the write fails
     */
    void write(long offset, MemorySegment source);
}
