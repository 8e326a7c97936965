package dev.kvbm.backend.system;

import java.util.concurrent.atomic.AtomicLong;

/** Bytes and allocations a provider has handed out and not yet seen closed. Thread-safe. */
final class StorageAccounting {
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong allocations = new AtomicLong();

    void allocated(long size) {
        bytes.addAndGet(size);
        allocations.incrementAndGet();
    }

    void released(long size) {
        bytes.addAndGet(-size);
        allocations.decrementAndGet();
    }

    long bytes() {
        return bytes.get();
    }

    long allocations() {
        return allocations.get();
    }
}
