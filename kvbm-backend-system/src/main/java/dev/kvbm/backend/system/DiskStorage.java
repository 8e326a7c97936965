package dev.kvbm.backend.system;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.FileStorage;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.StorageAccounting;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A preallocated file with no name in its directory: only the descriptor (which its kind carries) keeps it, so the
 * kernel reclaims the space when the storage is closed or the process dies, however it dies.
 *
 * <p>Opened with {@code O_DIRECT} unless the provider was told not to or the file system refused it, so the disk
 * tier's bytes do not also sit in the page cache. Direct I/O needs the file offset and length to be multiples of
 * the file system's offset alignment and the host address a multiple of its memory alignment
 * ({@code statx(STATX_DIOALIGN)}, else 4096). A read or write that is not is <em>staged</em>: its aligned span goes
 * through an aligned buffer of this storage, and a write that covers only part of an aligned unit at either end
 * first reads that unit in, under a lock for that unit, so two writes to disjoint ranges sharing it both land. The
 * file is allocated up to the next aligned unit so those reads never pass its end.
 *
 * <p>Reads and writes are positional and may run concurrently; close waits for them (so a recycled descriptor is
 * never used) and closes the descriptor.
 */
final class DiskStorage implements FileStorage {
    /** Bytes a staged read or write moves per system call, at most. */
    private static final long STAGE_BYTES = 1L << 20;
    private static final int EDGE_LOCKS = 64;

    private final int fd;
    private final Path path;
    private final MemoryRegion region;
    private final StorageKind kind;
    private final boolean direct;
    private final long memoryAlignment;
    private final long offsetAlignment;
    private final StorageAccounting accounting;
    private final Lifetime lifetime = new Lifetime(this::toString);
    private final ReentrantLock[] edgeLocks;
    private volatile boolean closed;

    /**
     * @param direct          whether {@code fd} has {@code O_DIRECT}
     * @param memoryAlignment host address alignment direct I/O needs (1 when not direct)
     * @param offsetAlignment file offset and length alignment direct I/O needs (1 when not direct); the file is
     *                        at least {@code size} rounded up to it
     */
    DiskStorage(int fd, Path path, long size, boolean direct, long memoryAlignment, long offsetAlignment,
                StorageAccounting accounting) {
        this.fd = fd;
        this.path = path;
        this.region = new MemoryRegion(0, size);
        this.kind = StorageKind.disk(fd);
        this.direct = direct;
        this.memoryAlignment = direct ? memoryAlignment : 1;
        this.offsetAlignment = direct ? offsetAlignment : 1;
        this.accounting = accounting;
        this.edgeLocks = new ReentrantLock[direct ? EDGE_LOCKS : 0];
        for (int i = 0; i < edgeLocks.length; i++) {
            edgeLocks[i] = new ReentrantLock();
        }
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
    public boolean directIo() {
        return direct;
    }

    @Override
    public long ioAlignment() {
        return Math.max(memoryAlignment, offsetAlignment);
    }

    @Override
    public boolean isClosed() {
        return closed;
    }

    int fd() {
        return fd;
    }

    /** Whether a transfer of {@code length} bytes at file {@code offset} and host {@code address} needs no staging. */
    boolean unstaged(long offset, long length, long address) {
        return ((offset | length) & (offsetAlignment - 1)) == 0 && (address & (memoryAlignment - 1)) == 0;
    }

    @Override
    public void read(long offset, MemorySegment destination) {
        check("read", offset, destination);
        try (Lifetime.Lease ignored = acquire()) {
            readLeased(offset, destination);
        }
    }

    @Override
    public void write(long offset, MemorySegment source) {
        check("write", offset, source);
        try (Lifetime.Lease ignored = acquire()) {
            writeLeased(offset, source);
        }
    }

    /** A read whose caller holds a lease on this storage and checked the range. */
    void readLeased(long offset, MemorySegment destination) {
        if (unstaged(offset, destination.byteSize(), destination.address())) {
            PosixFiles.readFully(fd, path, offset, destination);
        } else {
            stagedRead(offset, destination);
        }
    }

    /** A write whose caller holds a lease on this storage and checked the range. */
    void writeLeased(long offset, MemorySegment source) {
        if (unstaged(offset, source.byteSize(), source.address())) {
            PosixFiles.writeFully(fd, path, offset, source);
        } else {
            stagedWrite(offset, source);
        }
    }

    private void stagedRead(long offset, MemorySegment destination) {
        long end = offset + destination.byteSize();
        long start = alignDown(offset);
        long alignedEnd = alignUp(end);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bounce = bounce(arena, alignedEnd - start);
            for (long w = start; w < alignedEnd; w += bounce.byteSize()) {
                long length = Math.min(bounce.byteSize(), alignedEnd - w);
                PosixFiles.readFully(fd, path, w, bounce.asSlice(0, length));
                long from = Math.max(w, offset);
                long to = Math.min(w + length, end);
                MemorySegment.copy(bounce, from - w, destination, from - offset, to - from);
            }
        }
    }

    private void stagedWrite(long offset, MemorySegment source) {
        long end = offset + source.byteSize();
        long start = alignDown(offset);
        long alignedEnd = alignUp(end);
        boolean partialHead = start != offset;
        boolean partialTail = alignedEnd != end;
        // Units written only in part are read, patched and written back: whoever else writes into the same unit
        // does so under the same lock, so neither write is lost.
        int head = partialHead ? edgeLock(start) : -1;
        int tail = partialTail ? edgeLock(alignedEnd - offsetAlignment) : -1;
        ReentrantLock first = head < 0 && tail < 0 ? null : edgeLocks[head < 0 ? tail : tail < 0 ? head : Math.min(head, tail)];
        ReentrantLock second = head >= 0 && tail >= 0 && head != tail ? edgeLocks[Math.max(head, tail)] : null;
        if (first != null) {
            first.lock();
        }
        if (second != null) {
            second.lock();
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment bounce = bounce(arena, alignedEnd - start);
            for (long w = start; w < alignedEnd; w += bounce.byteSize()) {
                long length = Math.min(bounce.byteSize(), alignedEnd - w);
                if (partialHead && w == start) {
                    PosixFiles.readFully(fd, path, start, bounce.asSlice(0, offsetAlignment));
                }
                if (partialTail && w + length == alignedEnd) {
                    long unit = alignedEnd - offsetAlignment;
                    PosixFiles.readFully(fd, path, unit, bounce.asSlice(unit - w, offsetAlignment));
                }
                long from = Math.max(w, offset);
                long to = Math.min(w + length, end);
                MemorySegment.copy(source, from - offset, bounce, from - w, to - from);
                PosixFiles.writeFully(fd, path, w, bounce.asSlice(0, length));
            }
        } finally {
            if (second != null) {
                second.unlock();
            }
            if (first != null) {
                first.unlock();
            }
        }
    }

    /** An aligned buffer for staging: the whole span when small, else {@value #STAGE_BYTES} (aligned) at a time. */
    private MemorySegment bounce(Arena arena, long span) {
        long size = Math.min(span, Math.max(STAGE_BYTES, offsetAlignment));
        return arena.allocate(size, Math.max(memoryAlignment, offsetAlignment));
    }

    /** The index of the lock guarding the aligned unit at {@code unitOffset} (locks are taken in index order). */
    private int edgeLock(long unitOffset) {
        long unit = unitOffset / offsetAlignment;
        return (int) Math.floorMod(unit ^ (unit >>> 17), (long) EDGE_LOCKS);
    }

    private long alignDown(long value) {
        return value & -offsetAlignment;
    }

    private long alignUp(long value) {
        return (value + offsetAlignment - 1) & -offsetAlignment;
    }

    /** Checks a read or write's buffer and range, naming what is wrong. */
    void check(String op, long offset, MemorySegment buffer) {
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
        long length = buffer.byteSize();
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
        return "DiskStorage[" + path + ", fd " + fd + ", " + region.size() + " bytes"
                + (direct ? ", O_DIRECT" : ", buffered") + (closed ? ", closed]" : "]");
    }
}
