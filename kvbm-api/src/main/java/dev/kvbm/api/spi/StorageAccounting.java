package dev.kvbm.api.spi;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The count a {@link StorageProvider} keeps of what it handed out and has not yet seen closed, behind
 * {@link StorageProvider#bytesOutstanding()} and {@link StorageProvider#allocationsOutstanding()}. Thread-safe.
 */
public final class StorageAccounting {
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong allocations = new AtomicLong();

    /** Creates an empty count. */
    public StorageAccounting() {
    }

    /**
     * Counts one allocation.
     *
     * @param size its bytes
     */
    public void allocated(long size) {
        bytes.addAndGet(size);
        allocations.incrementAndGet();
    }

    /**
     * Counts one allocation closed.
     *
     * @param size its bytes, as counted by {@link #allocated}
     */
    public void released(long size) {
        bytes.addAndGet(-size);
        allocations.decrementAndGet();
    }

    /** {@return bytes allocated and not yet released} */
    public long bytes() {
        return bytes.get();
    }

    /** {@return allocations made and not yet released} */
    public long allocations() {
        return allocations.get();
    }
}
