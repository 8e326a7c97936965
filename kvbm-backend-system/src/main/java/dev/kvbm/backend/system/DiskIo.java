package dev.kvbm.backend.system;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Moves a batch's bytes between host memory and {@link DiskStorage} files with many requests in flight, as an NVMe
 * drive needs to reach its bandwidth: {@link UringDiskIo} through io_uring, else {@link ThreadedDiskIo} through a
 * pool of threads doing {@code pread}/{@code pwrite}. Each operation is cut into pieces of at most
 * {@value #MAX_IO_BYTES} bytes so that one large region is spread over the queue as well; pieces that direct I/O
 * cannot take as they are (see {@link DiskStorage}) are staged on a worker thread.
 *
 * <p>{@link #submit}'s future completes only when every piece has finished, failed or not, so the caller may
 * release the memory when it completes; it fails with the first failure, which names the file, offset, length and
 * {@code strerror}. The caller holds leases on the storages until then.
 */
abstract sealed class DiskIo implements AutoCloseable permits UringDiskIo, ThreadedDiskIo {

    /** System property: {@code auto} (io_uring when the kernel allows it), {@code io_uring} or {@code threads}. */
    static final String ENGINE_PROPERTY = "kvbm.disk.io";
    /** System property: requests in flight per executor (default {@value #DEFAULT_QUEUE_DEPTH}). */
    static final String QUEUE_DEPTH_PROPERTY = "kvbm.disk.queueDepth";
    static final int DEFAULT_QUEUE_DEPTH = 16;
    /** The largest piece one request moves. */
    static final long MAX_IO_BYTES = 2L << 20;

    private static final System.Logger LOG = System.getLogger(DiskIo.class.getName());

    /** One transfer: {@code host} is written to, or read from, {@code file} at {@code offset}. */
    record Op(DiskStorage file, boolean write, long offset, MemorySegment host) {
    }

    /** A piece of an {@link Op} of at most {@link #MAX_IO_BYTES}, and the batch it counts towards. */
    static final class Piece {
        final DiskStorage file;
        final boolean write;
        final long offset;
        final MemorySegment host;
        final Batch batch;
        long done; // bytes moved so far (a short read or write is resumed from here)

        Piece(DiskStorage file, boolean write, long offset, MemorySegment host, Batch batch) {
            this.file = file;
            this.write = write;
            this.offset = offset;
            this.host = host;
            this.batch = batch;
        }

        boolean unstaged() {
            return file.unstaged(offset, host.byteSize(), host.address());
        }

        /** Moves the whole piece with blocking calls on this thread (staged when it must be). */
        void runBlocking() {
            if (write) {
                file.writeLeased(offset, host);
            } else {
                file.readLeased(offset, host);
            }
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s of %d bytes at offset %d of %s", write ? "write" : "read",
                    host.byteSize(), offset, file.path());
        }
    }

    /** Counts a batch's pieces down and completes its future when the last one finished. */
    static final class Batch {
        final CompletableFuture<Void> future = new CompletableFuture<>();
        private final AtomicInteger remaining;
        private final AtomicReference<Throwable> failure = new AtomicReference<>();

        Batch(int pieces) {
            remaining = new AtomicInteger(pieces);
            if (pieces == 0) {
                future.complete(null);
            }
        }

        void finished(Throwable t) {
            if (t != null && !failure.compareAndSet(null, t) && failure.get() != t) {
                failure.get().addSuppressed(t);
            }
            if (remaining.decrementAndGet() == 0) {
                Throwable first = failure.get();
                if (first == null) {
                    future.complete(null);
                } else {
                    future.completeExceptionally(first);
                }
            }
        }
    }

    /** Starts every operation; see the class comment for when the future completes. */
    final CompletableFuture<Void> submit(List<Op> ops) {
        List<Piece> pieces = new ArrayList<>(ops.size());
        Batch batch = new Batch(countPieces(ops));
        for (Op op : ops) {
            long size = op.host().byteSize();
            for (long at = 0; at < size; at += MAX_IO_BYTES) {
                long length = Math.min(MAX_IO_BYTES, size - at);
                pieces.add(new Piece(op.file(), op.write(), op.offset() + at, op.host().asSlice(at, length), batch));
            }
        }
        if (!pieces.isEmpty()) {
            start(pieces);
        }
        return batch.future;
    }

    private static int countPieces(List<Op> ops) {
        long n = 0;
        for (Op op : ops) {
            n += (op.host().byteSize() + MAX_IO_BYTES - 1) / MAX_IO_BYTES;
        }
        return Math.toIntExact(n);
    }

    /**
     * Issues the pieces; every one must end in {@link Batch#finished}. Throws {@link IllegalStateException} when
     * closed (before anything was issued).
     */
    abstract void start(List<Piece> pieces);

    /** {@code io_uring} or {@code threads}. */
    abstract String engine();

    /** Requests in flight at most. */
    abstract int queueDepth();

    /** Waits for every piece submitted, then frees the engine. */
    @Override
    public abstract void close();

    /**
     * The engine {@value #ENGINE_PROPERTY} asks for, with {@value #QUEUE_DEPTH_PROPERTY} requests in flight:
     * {@code auto} takes io_uring when this kernel allows it and says once why not otherwise.
     */
    static DiskIo create(String name) {
        String engine = System.getProperty(ENGINE_PROPERTY, "auto").strip().toLowerCase(Locale.ROOT);
        int depth = Integer.getInteger(QUEUE_DEPTH_PROPERTY, DEFAULT_QUEUE_DEPTH);
        if (depth < 1 || depth > 4096) {
            throw new IllegalArgumentException(QUEUE_DEPTH_PROPERTY + " is " + depth + "; expected 1 to 4096");
        }
        return switch (engine) {
            case "threads" -> new ThreadedDiskIo(name, depth);
            case "io_uring" -> new UringDiskIo(name, depth);
            case "auto" -> {
                Throwable why = IoUring.unavailabilityCause().orElse(null);
                if (why == null) {
                    yield new UringDiskIo(name, depth);
                }
                if (!warnedNoUring) {
                    warnedNoUring = true;
                    LOG.log(System.Logger.Level.INFO, "disk I/O through " + depth + " threads, not io_uring: "
                            + why.getMessage());
                }
                yield new ThreadedDiskIo(name, depth);
            }
            default -> throw new IllegalArgumentException(ENGINE_PROPERTY + " is '" + engine
                    + "'; expected auto, io_uring or threads");
        };
    }

    private static volatile boolean warnedNoUring;
}
