package dev.kvbm.backend.system;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.FileStorage;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A preallocated file; its kind carries the real file descriptor. Reads and writes are positional and may run
 * concurrently; close waits for them (so a recycled descriptor is never used) and deletes the file.
 */
final class DiskStorage implements FileStorage {
    private static final System.Logger LOG = System.getLogger(DiskStorage.class.getName());

    private final int fd;
    private final Path path;
    private final MemoryRegion region;
    private final StorageKind kind;
    private final StorageAccounting accounting;
    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile boolean closed;

    DiskStorage(int fd, Path path, long size, StorageAccounting accounting) {
        this.fd = fd;
        this.path = path;
        this.region = new MemoryRegion(0, size);
        this.kind = StorageKind.disk(fd);
        this.accounting = accounting;
    }

    @Override
    public StorageKind kind() {
        return kind;
    }

    @Override
    public MemoryRegion region() {
        return region;
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void read(long offset, MemorySegment destination) {
        positional("read", offset, destination, PosixFiles::readFully);
    }

    @Override
    public void write(long offset, MemorySegment source) {
        positional("write", offset, source, PosixFiles::writeFully);
    }

    /** The I/O calls of {@link PosixFiles}: (fd, path, offset, buffer). */
    private interface PositionalIo {
        void run(int fd, Path path, long offset, MemorySegment buffer);
    }

    /** Runs one positional read or write under the read lock, so close cannot recycle the fd under it. */
    private void positional(String op, long offset, MemorySegment buffer, PositionalIo io) {
        checkRange(op, offset, buffer.byteSize());
        lock.readLock().lock();
        try {
            ensureOpen();
            io.run(fd, path, offset, buffer);
        } finally {
            lock.readLock().unlock();
        }
    }

    private void checkRange(String op, long offset, long length) {
        if (offset < 0 || offset > region.size() - length) {
            throw new IndexOutOfBoundsException(String.format(Locale.ROOT,
                    "%s of %d bytes at offset %d lies outside %s (size %d)", op, length, offset, path, region.size()));
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("Disk storage " + path + " is closed");
        }
    }

    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            accounting.released(region.size());
            try {
                PosixFiles.close(fd, path);
            } finally {
                try {
                    Files.deleteIfExists(path);
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.WARNING, "could not delete disk tier file " + path, e);
                }
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "DiskStorage[" + path + ", fd " + fd + ", " + region.size() + " bytes" + (closed ? ", closed]" : "]");
    }
}
