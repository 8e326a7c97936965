package dev.kvbm.api.spi;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Storage backed by a file (the disk tier). Its {@link #region()} is {@code [0, size)}: addresses are file offsets.
 *
 * <p>Reads and writes are positional and may run concurrently from several threads on disjoint ranges.
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
