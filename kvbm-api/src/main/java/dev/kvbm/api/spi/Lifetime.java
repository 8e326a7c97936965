package dev.kvbm.api.spi;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The lifetime rule of kvbm-java, kept in one place: <b>memory is never freed under a reader</b>.
 *
 * <p>Every {@link Storage} owns one {@code Lifetime} and keeps it private; others reach it through
 * {@link Storage#acquire()} and {@link Storage#onClose(String, Runnable)}. Two kinds of holder:
 * <ul>
 *   <li>A <em>lease</em> pins the memory for one access that bypasses the storage's own methods: an executor's
 *       copy, an agent moving bytes through a raw address. Leases are short: taken for a copy, released when it
 *       returned.</li>
 *   <li>A <em>withdrawal</em>, attached with {@link #onClose}, is how something that makes the memory reachable
 *       from elsewhere (an agent's registration, a worker's published layout) learns that it must stop. An agent's
 *       withdrawal removes the registration and waits for the transfers it has in flight.</li>
 * </ul>
 *
 * <p>{@link #close(Runnable)} runs, in this order: new leases and withdrawals are refused with
 * {@link IllegalStateException}; every attached withdrawal runs (so no peer reaches the memory any more); close
 * waits until every lease is released; then the memory is freed. A transfer racing the close therefore either
 * finishes before the memory is freed or fails with an {@link IllegalStateException} naming the storage. Close
 * returns only when the memory is free (a withdrawal that closes its own storage returns at once: the close in
 * progress frees it), so a lease must never be held across a call that may close its storage
 * (executors and agents release theirs before completing a transfer's future, so callbacks may close storage).
 * A lease may be released on another thread than the one that took it (an asynchronous copy releases it when the
 * device reports completion).
 *
 * <p>Thread-safe. Backends embed one per storage; nothing else needs to construct one.
 */
public final class Lifetime {

    private static final System.Logger LOG = System.getLogger(Lifetime.class.getName());
    private static final long WARN_EVERY_NANOS = TimeUnit.SECONDS.toNanos(10);

    private enum State { OPEN, CLOSING, CLOSED }

    private final Supplier<String> owner;
    private State state = State.OPEN; // guarded by this
    private Thread closer; // guarded by this: the thread running the withdrawals while CLOSING
    private final Set<LeaseImpl> leases = new HashSet<>(); // guarded by this
    private final List<HookImpl> hooks = new ArrayList<>(); // guarded by this

    /**
     * A lifetime for one allocation.
     *
     * @param owner describes the storage in messages, e.g. {@code () -> "System storage [0x7f.., 4096 bytes]"}
     */
    public Lifetime(Supplier<String> owner) {
        this.owner = Objects.requireNonNull(owner, "owner");
    }

    /** Pins the memory until the lease is closed. */
    public interface Lease extends AutoCloseable {
        /** Releases the pin; idempotent. */
        @Override
        void close();
    }

    /** An attached withdrawal; closing it detaches the withdrawal without running it (idempotent). */
    public interface Hook extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * Pins the memory for one access.
     *
     * @return the lease; closing it (idempotent) lets a waiting close go on
     * @throws IllegalStateException when the storage is closing or closed
     */
    public synchronized Lease acquire() {
        requireOpen("cannot be accessed");
        LeaseImpl lease = new LeaseImpl(Thread.currentThread().getName());
        leases.add(lease);
        return lease;
    }

    /**
     * Attaches {@code withdraw}, which close runs before it waits for leases and frees the memory.
     *
     * @param holder   names what holds the memory, for messages, e.g. {@code "registration with agent worker-1"}
     * @param withdraw run once by close, before leases are awaited; it may block until the holder's accesses end
     * @return the hook; closing it detaches the withdrawal
     * @throws IllegalStateException when the storage is closing or closed: closed memory cannot be registered
     */
    public synchronized Hook onClose(String holder, Runnable withdraw) {
        Objects.requireNonNull(holder, "holder");
        Objects.requireNonNull(withdraw, "withdraw");
        requireOpen("cannot be registered (" + holder + ")");
        HookImpl hook = new HookImpl(holder, withdraw);
        hooks.add(hook);
        return hook;
    }

    /** {@return true until close begins} */
    public synchronized boolean isOpen() {
        return state == State.OPEN;
    }

    /** {@return true once the memory has been freed} */
    public synchronized boolean isClosed() {
        return state == State.CLOSED;
    }

    /** {@return what still holds the memory, for messages: attached holders and the number of leases} */
    public synchronized String holders() {
        List<String> names = new ArrayList<>();
        for (HookImpl h : hooks) {
            names.add(h.holder);
        }
        return String.format(Locale.ROOT, "%d lease(s) taken on %s, attached %s", leases.size(), leaseThreads(),
                names);
    }

    /**
     * Closes the storage: refuses new holders, runs the withdrawals, waits for leases, then runs {@code free}.
     * Idempotent: a second call returns {@code false} once the first has finished.
     *
     * @param free releases the memory; run at most once, after every withdrawal and lease has ended
     * @return true when this call freed the memory
     * @throws RuntimeException what {@code free} threw; the storage then stays open, without its withdrawn holders
     */
    public boolean close(Runnable free) {
        Objects.requireNonNull(free, "free");
        boolean interrupted = false;
        try {
            List<HookImpl> withdrawals;
            synchronized (this) {
                if (state == State.CLOSING && closer == Thread.currentThread()) {
                    return false; // a withdrawal closing its own storage: the close in progress frees it
                }
                while (state == State.CLOSING) {
                    interrupted |= awaitQuietly();
                }
                if (state == State.CLOSED) {
                    return false;
                }
                state = State.CLOSING;
                closer = Thread.currentThread();
                withdrawals = List.copyOf(hooks);
                hooks.clear();
            }
            for (HookImpl hook : withdrawals) {
                hook.run();
            }
            synchronized (this) {
                long warnAt = System.nanoTime() + WARN_EVERY_NANOS;
                while (!leases.isEmpty()) {
                    interrupted |= awaitQuietly();
                    if (System.nanoTime() - warnAt >= 0) {
                        LOG.log(System.Logger.Level.WARNING, "closing {0} waits for {1} access(es) in progress,"
                                + " taken on threads {2}", owner.get(), leases.size(), leaseThreads());
                        warnAt = System.nanoTime() + WARN_EVERY_NANOS;
                    }
                }
                closer = null;
                try {
                    free.run();
                } catch (RuntimeException | Error e) {
                    state = State.OPEN;
                    notifyAll();
                    throw e;
                }
                state = State.CLOSED;
                notifyAll();
                return true;
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private List<String> leaseThreads() {
        return leases.stream().map(l -> l.thread).distinct().toList();
    }

    private void requireOpen(String what) {
        if (state != State.OPEN) {
            throw new IllegalStateException(owner.get() + " is " + (state == State.CLOSING ? "closing" : "closed")
                    + " and " + what);
        }
    }

    /**
     * Waits on this monitor; returns true when interrupted. The caller re-asserts the interrupt once close is done:
     * an interrupt never lets close free memory early.
     */
    private boolean awaitQuietly() {
        try {
            wait(1000);
            return false;
        } catch (InterruptedException e) {
            return true;
        }
    }

    private synchronized void release(LeaseImpl lease) {
        if (leases.remove(lease) && leases.isEmpty()) {
            notifyAll();
        }
    }

    private synchronized void detach(HookImpl hook) {
        hooks.remove(hook);
    }

    @Override
    public synchronized String toString() {
        return "Lifetime[" + owner.get() + ", " + state + "]";
    }

    private final class LeaseImpl implements Lease {
        private final String thread;

        LeaseImpl(String thread) {
            this.thread = thread;
        }

        @Override
        public void close() {
            release(this);
        }
    }

    private final class HookImpl implements Hook {
        private final String holder;
        private final Runnable withdraw;

        HookImpl(String holder, Runnable withdraw) {
            this.holder = holder;
            this.withdraw = withdraw;
        }

        void run() {
            try {
                withdraw.run();
            } catch (RuntimeException | Error e) {
                LOG.log(System.Logger.Level.WARNING, "withdrawing " + holder + " from " + owner.get()
                        + " failed; the memory is freed regardless once no access is in progress", e);
            }
        }

        @Override
        public void close() {
            detach(this);
        }
    }
}
