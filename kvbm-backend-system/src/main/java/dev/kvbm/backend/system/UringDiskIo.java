package dev.kvbm.backend.system;

import dev.kvbm.api.KvbmException;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.LockSupport;

/**
 * The io_uring engine: one ring and one thread that owns it. Requests in flight are bounded in bytes as well as in
 * number: {@code queueDepth} requests of {@value DiskIo#MAX_IO_BYTES} bytes (what fio's {@code iodepth} with
 * {@code bs=2M} keeps in flight), and up to {@value #SMALL_REQUEST_FACTOR} times as many smaller ones (a
 * LayerSeparate layout moves a block as one request per layer), so small requests keep the device as busy as
 * large ones. The thread fills free
 * submission slots from the queue of pieces, submits them and waits for at least one completion in the same
 * {@code io_uring_enter}, then resumes short transfers where they stopped, resubmits those the kernel answered
 * with {@code EINTR} or {@code EAGAIN}, and counts the rest finished (a failure names the file, offset, length
 * and {@code strerror}). Pieces that direct I/O cannot take as they are go to a small {@link ThreadedDiskIo}
 * that stages them.
 */
final class UringDiskIo extends DiskIo {
    static final int SMALL_REQUEST_FACTOR = 16;

    private final String name;
    private final IoUring ring;
    private final int depth;
    private final int slotCount;
    private final long byteBudget;
    private long bytesInFlight;
    private final Thread thread;
    private final ConcurrentLinkedQueue<Piece> queue = new ConcurrentLinkedQueue<>();
    private final Piece[] slots;
    private final int[] freeSlots;
    private final long[] lengths; // bytes asked of the request in each slot
    private int freeCount;
    private final ArrayDeque<Piece> retry = new ArrayDeque<>();
    private final Object stagedLock = new Object();
    private ThreadedDiskIo staged; // guarded by stagedLock; made on the first piece that needs staging
    private volatile boolean closing;

    UringDiskIo(String name, int queueDepth) {
        this.name = name;
        this.ring = new IoUring(Math.min(4096, queueDepth * SMALL_REQUEST_FACTOR));
        this.depth = queueDepth;
        this.slotCount = ring.entries();
        this.byteBudget = queueDepth * MAX_IO_BYTES;
        this.slots = new Piece[slotCount];
        this.freeSlots = new int[slotCount];
        this.lengths = new long[slotCount];
        for (int i = 0; i < slotCount; i++) {
            freeSlots[i] = slotCount - 1 - i;
        }
        this.freeCount = slotCount;
        this.thread = new Thread(this::loop, name + "-io_uring");
        thread.setDaemon(true);
        thread.start();
    }

    @Override
    void start(List<Piece> pieces) {
        List<Piece> toStage = null;
        // Under the lock the ring thread decides to stop: a piece is either queued before it stops, and done, or
        // refused here.
        synchronized (this) {
            if (closing) {
                throw new IllegalStateException("disk I/O engine " + name + " is closed");
            }
            for (Piece piece : pieces) {
                if (piece.unstaged()) {
                    queue.add(piece);
                } else {
                    if (toStage == null) {
                        toStage = new ArrayList<>();
                    }
                    toStage.add(piece);
                }
            }
        }
        LockSupport.unpark(thread);
        if (toStage != null) {
            try {
                stager().start(toStage);
            } catch (IllegalStateException e) {
                // Closed in between: the queued pieces of this batch still run; these are counted as failed, so
                // the batch completes (exceptionally) only when those are done.
                for (Piece piece : toStage) {
                    piece.batch.finished(e);
                }
            }
        }
    }

    private ThreadedDiskIo stager() {
        synchronized (stagedLock) {
            if (closing) {
                throw new IllegalStateException("disk I/O engine " + name + " is closed");
            }
            if (staged == null) {
                staged = new ThreadedDiskIo(name + "-staged", 2);
            }
            return staged;
        }
    }

    private void loop() {
        try {
            while (true) {
                fill();
                int inFlight = slotCount - freeCount;
                if (inFlight == 0) {
                    synchronized (this) {
                        if (closing && queue.isEmpty() && retry.isEmpty()) {
                            break;
                        }
                    }
                    if (queue.isEmpty() && retry.isEmpty()) {
                        LockSupport.park(this);
                    }
                    continue;
                }
                ring.enter(true);
                ring.reap(this::completed);
            }
        } catch (Throwable t) {
            // The ring itself failed: everything in flight and queued fails with it, and the engine stops taking work.
            synchronized (this) {
                closing = true;
            }
            KvbmException failure = t instanceof KvbmException k ? k : new KvbmException("io_uring failed: " + t, t);
            abandon(failure);
            return;
        }
        abandon(new IllegalStateException("disk I/O engine " + name + " is closed"));
        ring.close();
    }

    /** After the ring failed or closed: fails what is left (nothing is in flight when the loop ends normally). */
    private void abandon(RuntimeException why) {
        Piece p;
        while ((p = retry.poll()) != null || (p = queue.poll()) != null) {
            p.batch.finished(why);
        }
        for (int i = 0; i < slots.length; i++) {
            if (slots[i] != null) {
                // Still owned by the kernel when the ring failed: its memory stays leased (never finished) rather
                // than freed under a transfer the kernel may still be doing.
                slots[i] = null;
            }
        }
    }

    /** Fills free slots from retries first, then the queue, while the bytes in flight are under the budget. */
    private void fill() {
        while (freeCount > 0 && bytesInFlight < byteBudget) {
            Piece p = retry.poll();
            if (p == null) {
                p = queue.poll();
            }
            if (p == null) {
                break;
            }
            int slot = freeSlots[--freeCount];
            slots[slot] = p;
            long remaining = p.host.byteSize() - p.done;
            ring.prepare(p.write ? IoUring.OP_WRITE : IoUring.OP_READ, p.file.fd(), p.offset + p.done,
                    p.host.address() + p.done, (int) remaining, slot);
            bytesInFlight += remaining;
            lengths[slot] = remaining;
        }
    }

    private void completed(long userData, int result) {
        int slot = (int) userData;
        Piece p = slots[slot];
        slots[slot] = null;
        bytesInFlight -= lengths[slot];
        freeSlots[freeCount++] = slot;
        if (result > 0) {
            p.done += result;
            if (p.done < p.host.byteSize()) {
                retry.add(p); // a short read or write: the rest goes again from where it stopped
            } else {
                p.batch.finished(null);
            }
        } else if (result == 0) {
            long length = p.host.byteSize();
            p.batch.finished(new KvbmException(String.format(Locale.ROOT,
                    "io_uring %s of %s at offset %d returned 0 after %d of %d bytes (%s)", p.write ? "write" : "read",
                    p.file.path(), p.offset + p.done, p.done, length,
                    p.write ? "the device took nothing" : "the file is shorter than expected")));
        } else if (-result == PosixFiles.EINTR || -result == PosixFiles.EAGAIN) {
            retry.add(p);
        } else {
            long length = p.host.byteSize() - p.done;
            p.batch.finished(PosixFiles.failure(p.write ? "io_uring write" : "io_uring read", p.file.path(),
                    p.offset + p.done, length, -result));
        }
    }

    @Override
    String engine() {
        return "io_uring";
    }

    @Override
    int queueDepth() {
        return depth;
    }

    @Override
    public void close() {
        synchronized (this) {
            closing = true;
        }
        LockSupport.unpark(thread);
        if (Thread.currentThread() != thread) {
            boolean interrupted = false;
            while (thread.isAlive()) {
                try {
                    thread.join();
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (stagedLock) {
            if (staged != null) {
                staged.close();
            }
        }
    }
}
