package dev.kvbm.backend.nixl;

import org.openucx.jucx.ucp.UcpWorker;

import java.util.Queue;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.function.BooleanSupplier;

/**
 * The one thread that makes every UCX call on an agent's two workers. Other threads hand it work ({@link #execute},
 * {@link #call}); between tasks it progresses both workers, so one-sided operations into this process's memory and
 * incoming control messages are served without the application calling in. When there is nothing to do it spins
 * briefly, then sleeps in the main worker's {@code ucp_worker_wait} until UCX has an event or a task arrives
 * ({@code ucp_worker_signal}): no busy core when idle. The second worker only sends (answers to peers): it is
 * progressed on every turn while it has sends outstanding, otherwise on one turn in {@value #SECOND_EVERY} (an idle
 * worker's progress still polls its transports, a system call that would halve how often the main worker's
 * transfers are polled), and whatever else reaches it waits for the next wake.
 */
final class ProgressThread extends Thread {
    private static final System.Logger LOG = System.getLogger(ProgressThread.class.getName());
    private static final int SPINS_BEFORE_SLEEP = 256;
    private static final int SECOND_EVERY = 256; // at most SPINS_BEFORE_SLEEP: every wake progresses it once

    private final UcpWorker worker;
    private final UcpWorker second;
    private final BooleanSupplier secondBusy;
    private int turns;
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final Runnable onExit;
    private final BooleanSupplier inFlight;
    private volatile boolean stopping;
    private final Object signalLock = new Object(); // not the Thread's own monitor, which join uses
    private boolean workerDestroyed; // guarded by signalLock

    /**
     * @param inFlight true while operations of this worker are outstanding (called on this thread): the thread
     *                 keeps progressing instead of sleeping, since some completions (shared-memory copies, flushes)
     *                 raise no event that would wake it
     */
    ProgressThread(String name, UcpWorker worker, UcpWorker second, BooleanSupplier secondBusy, Runnable onExit,
                   BooleanSupplier inFlight) {
        super(name);
        this.worker = worker;
        this.second = second;
        this.secondBusy = secondBusy;
        this.onExit = onExit;
        this.inFlight = inFlight;
        setDaemon(true);
    }

    /** Runs {@code task} on this thread; from this thread itself it runs at once. */
    void execute(Runnable task) {
        if (Thread.currentThread() == this) {
            task.run();
            return;
        }
        tasks.add(task);
        wake();
    }

    /**
     * Queues {@code task} to run on this thread after the current task or UCX callback returns. UCX callbacks use it
     * for anything that calls UCX again (creating an endpoint inside a callback is refused).
     */
    void later(Runnable task) {
        tasks.add(task);
        if (Thread.currentThread() != this) {
            wake();
        }
    }

    /**
     * Runs {@code task} on this thread and returns its result; an unchecked exception it throws is rethrown here as
     * it is. From this thread itself it runs at once.
     *
     * @throws IllegalStateException when the thread has stopped
     */
    <T> T call(Callable<T> task) {
        if (Thread.currentThread() == this) {
            return callHere(task);
        }
        if (!isAlive()) {
            throw new IllegalStateException("the UCX progress thread " + getName() + " has stopped");
        }
        CompletableFuture<T> result = new CompletableFuture<>();
        tasks.add(() -> {
            try {
                result.complete(task.call());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        wake();
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return result.get();
                } catch (InterruptedException e) {
                    interrupted = true; // the task runs anyway: wait for it so its effects are known
                } catch (ExecutionException e) {
                    Throwable cause = e.getCause();
                    if (cause instanceof RuntimeException r) {
                        throw r;
                    }
                    if (cause instanceof Error err) {
                        throw err;
                    }
                    throw new IllegalStateException(cause);
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static <T> T callHere(Callable<T> task) {
        try {
            return task.call();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Wakes the thread from {@code ucp_worker_wait}. Any thread may call it at any time, also after the worker was
     * destroyed (a timer firing late, a caller racing close), when it does nothing: signalling a destroyed worker
     * would touch freed native memory.
     */
    private void wake() {
        synchronized (signalLock) {
            if (!workerDestroyed) {
                worker.signal();
            }
        }
    }

    /** Called on this thread just before the worker is destroyed; no signal reaches it afterwards. */
    void workerDestroyed() {
        synchronized (signalLock) {
            workerDestroyed = true;
        }
    }

    boolean isProgressThread() {
        return Thread.currentThread() == this;
    }

    /** Stops after the tasks already queued; {@code onExit} then runs on this thread (it closes the worker). */
    void shutdown() {
        stopping = true;
        wake();
    }

    @Override
    public void run() {
        try {
            int idle = 0;
            while (!stopping || !tasks.isEmpty()) {
                boolean busy = false;
                for (Runnable task; (task = tasks.poll()) != null; ) {
                    busy = true;
                    try {
                        task.run();
                    } catch (Throwable t) {
                        LOG.log(System.Logger.Level.ERROR, "task on " + getName() + " failed", t);
                    }
                }
                if (progress() > 0) {
                    busy = true;
                }
                if (busy) {
                    idle = 0;
                } else if (++idle < SPINS_BEFORE_SLEEP) {
                    Thread.onSpinWait();
                } else if (inFlight.getAsBoolean()) {
                    idle = 0;
                    Thread.yield(); // work outstanding: keep progressing, but let the other threads of a small machine run
                } else {
                    idle = 0;
                    if (tasks.isEmpty() && !stopping) {
                        worker.waitForEvents();
                    }
                }
            }
        } finally {
            onExit.run();
        }
    }

    /** Progresses both workers once; on this thread only. */
    int progressWorkers() throws Exception {
        return worker.progress() + second.progress();
    }

    private int progress() {
        try {
            int n = worker.progress();
            if (secondBusy.getAsBoolean() || ++turns % SECOND_EVERY == 0) {
                n += second.progress();
            }
            return n;
        } catch (Exception e) {
            // An endpoint error handler of JUCX's own (one we did not replace) throws from progress; ours do not.
            LOG.log(System.Logger.Level.WARNING, "UCX progress on " + getName() + " reported: " + e.getMessage());
            return 1;
        }
    }
}
