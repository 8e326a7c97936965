package dev.kvbm.backend.system;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.StorageAccounting;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;

/**
 * A preallocated file, unlinked from its directory as soon as it was created: only the descriptor (which its kind
 * carries) keeps it, so the kernel reclaims the space when the storage is closed or the process dies, however it
 * dies. Reads and writes are positional and may run concurrently; close waits for them (so a recycled descriptor is
 * never used) and closes the descriptor.
 */
final class DiskStorage implements FileStorage {
    private final int fd;
    private final Path path;
    private final MemoryRegion region;
    private final StorageKind kind;
    private final StorageAccounting accounting;
    private final Lifetime lifetime = new Lifetime(this::toString);
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

    /** Runs one positional read or write under a lease, so close cannot recycle the fd under it. */
    private void positional(String op, long offset, MemorySegment buffer, PositionalIo io) {
        Objects.requireNonNull(buffer, op.equals("read") ? "destination" : "source");
        if (!buffer.isNative()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s of %s needs a native segment (e.g. from an Arena), got a heap segment of %d bytes: the kernel"
                            + " copies to and from its address", op, path, buffer.byteSize()));
        }
        if (op.equals("read") && buffer.isReadOnly()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "read of %s into a read-only segment of %d bytes: the destination must be writable",
                    path, buffer.byteSize()));
        }
        checkRange(op, offset, buffer.byteSize());
        try (Lifetime.Lease ignored = acquire()) {
            io.run(fd, path, offset, buffer);
        }
    }

    private void checkRange(String op, long offset, long length) {
        if (offset < 0 || offset > region.size() - length) {
            throw new IndexOutOfBoundsException(String.format(Locale.ROOT,
                    "%s of %d bytes at offset %d lies outside %s (size %d)", op, length, offset, path, region.size()));
        }
    }

    @Override
    public Lifetime.Lease acquire() {
        return lifetime.acquire();
    }

    @Override
    public Lifetime.Hook onClose(String holder, Runnable withdraw) {
        return lifetime.onClose(holder, withdraw);
    }

    /** Waits for reads and writes in progress (so a recycled fd is never used), then closes the file. */
    @Override
    public void close() {
        lifetime.close(() -> {
            closed = true;
            accounting.released(region.size());
            PosixFiles.close(fd, path);
        });
    }

    @Override
    public String toString() {
        return "DiskStorage[" + path + ", fd " + fd + ", " + region.size() + " bytes" + (closed ? ", closed]" : "]");
    }
}
