package dev.kvbm.backend.system;

import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The fallback engine: {@code queueDepth} daemon threads, each doing one blocking {@code pread} or {@code pwrite}
 * (or a staged transfer) at a time. Also runs the pieces that {@link UringDiskIo} must stage.
 */
final class ThreadedDiskIo extends DiskIo {
    private final int depth;
    private final ExecutorService threads;

    ThreadedDiskIo(String name, int depth) {
        this.depth = depth;
        AtomicInteger count = new AtomicInteger();
        this.threads = Executors.newFixedThreadPool(depth, r -> {
            Thread t = new Thread(r, name + "-disk-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    void start(List<Piece> pieces) {
        int started = 0;
        try {
            for (Piece piece : pieces) {
                threads.execute(() -> run(piece));
                started++;
            }
        } catch (RejectedExecutionException e) {
            IllegalStateException closed = new IllegalStateException("disk I/O engine is closed", e);
            if (started == 0) {
                throw closed;
            }
            for (Piece piece : pieces.subList(started, pieces.size())) {
                piece.batch.finished(closed);
            }
        }
    }

    /** Runs one piece on this thread and counts it finished, whatever happened. */
    static void run(Piece piece) {
        Throwable failure = null;
        try {
            piece.runBlocking();
        } catch (Throwable t) {
            failure = t;
        }
        piece.batch.finished(failure);
    }

    @Override
    String engine() {
        return "threads";
    }

    @Override
    int queueDepth() {
        return depth;
    }

    @Override
    public void close() {
        threads.shutdown();
        boolean interrupted = false;
        while (true) {
            try {
                if (threads.awaitTermination(1, TimeUnit.SECONDS)) {
                    break;
                }
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
