package dev.kvbm.bench;

import java.util.Arrays;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Not a pool but a floor for one: the least work any block pool keyed by sequence hash does when a full pool turns a
 * block over, in primitive arrays. It keeps one least-recently-released order (no priorities, no leaves before
 * parents), a registry with removal, reference counts and each block's tokens, under one lock per call, and hands
 * out block ids instead of handles. It has no events, no duplicates policy, no checks of what it is given and no
 * failure reporting; {@code BlockPoolBenchmark.arrayPoolFloor16} runs {@code allocateRegisterRelease}'s workload on
 * it, so that the real pool's figure can be read against what the workload costs before any of those. Not
 * thread-safe beyond its lock, not for use.
 */
final class ArrayPoolFloor {
    private final ReentrantLock lock = new ReentrantLock();
    private final int blocks;
    private final int pageSize;
    private final long[] hash;
    private final int[] refCount;
    private final int[] prev; // index blocks is the sentinel of the release order
    private final int[] next;
    private final int[] tokens;
    private int neverUsed;
    private int released; // blocks in the release order
    private final long[] keys;
    private final int[] values; // -1: empty
    private final int mask;

    ArrayPoolFloor(int blocks, int pageSize) {
        this.blocks = blocks;
        this.pageSize = pageSize;
        this.hash = new long[blocks];
        this.refCount = new int[blocks];
        this.prev = new int[blocks + 1];
        this.next = new int[blocks + 1];
        prev[blocks] = blocks;
        next[blocks] = blocks;
        this.tokens = new int[blocks * pageSize];
        this.neverUsed = blocks;
        int entries = Integer.highestOneBit(blocks * 4 - 1) << 1; // a quarter full at most, as the pool's registry
        this.keys = new long[entries];
        this.values = new int[entries];
        Arrays.fill(values, -1);
        this.mask = entries - 1;
    }

    /** Fills {@code ids} with blocks: never used ones first, then the least recently released, unregistered. */
    void allocate(int[] ids) {
        lock.lock();
        try {
            if (ids.length > neverUsed + released) {
                throw new IllegalStateException(ids.length + " blocks asked, " + (neverUsed + released) + " to give");
            }
            for (int i = 0; i < ids.length; i++) {
                int id;
                if (neverUsed > 0) {
                    id = blocks - neverUsed--;
                } else {
                    id = next[blocks];
                    next[prev[id]] = next[id];
                    prev[next[id]] = prev[id];
                    remove(hash[id], id);
                    released--;
                }
                ids[i] = id;
            }
        } finally {
            lock.unlock();
        }
    }

    /** Gives block {@code id} a page of {@code from}, starting at {@code at}, and its sequence hash. */
    void complete(int id, int[] from, int at, long sequenceHash) {
        System.arraycopy(from, at, tokens, id * pageSize, pageSize);
        hash[id] = sequenceHash;
    }

    /** Registers the blocks under their hashes; {@return how many hashes were registered already} (kept out). */
    int register(int[] ids) {
        int present = 0;
        lock.lock();
        try {
            for (int id : ids) {
                if (!putIfAbsent(hash[id], id)) {
                    present++;
                }
                refCount[id]++;
            }
        } finally {
            lock.unlock();
        }
        return present;
    }

    /** Releases the blocks, last first, to the end of the release order. */
    void release(int[] ids) {
        lock.lock();
        try {
            for (int i = ids.length - 1; i >= 0; i--) {
                int id = ids[i];
                if (--refCount[id] == 0) {
                    int last = prev[blocks];
                    prev[id] = last;
                    next[id] = blocks;
                    next[last] = id;
                    prev[blocks] = id;
                    released++;
                }
            }
        } finally {
            lock.unlock();
        }
    }

    private int home(long key) {
        return (int) ((key * 0x9E3779B97F4A7C15L) >>> 40) & mask;
    }

    /** {@return the block registered under {@code key}, or -1} */
    int registered(long key) {
        lock.lock();
        try {
            int i = home(key);
            while (values[i] >= 0 && keys[i] != key) {
                i = (i + 1) & mask;
            }
            return values[i];
        } finally {
            lock.unlock();
        }
    }

    private boolean putIfAbsent(long key, int id) {
        int i = home(key);
        while (values[i] >= 0) {
            if (keys[i] == key) {
                return false;
            }
            i = (i + 1) & mask;
        }
        keys[i] = key;
        values[i] = id;
        return true;
    }

    /** Removes {@code key} when block {@code id} is what it names (a block kept out as a duplicate is not). */
    private void remove(long key, int id) {
        int i = home(key);
        while (values[i] >= 0 && keys[i] != key) {
            i = (i + 1) & mask;
        }
        if (values[i] != id) {
            return;
        }
        // Backward shift: pull later entries of the run into the gap unless their home lies after it.
        int gap = i;
        for (int j = (i + 1) & mask; values[j] >= 0; j = (j + 1) & mask) {
            int h = home(keys[j]);
            if (((j - h) & mask) >= ((j - gap) & mask)) {
                keys[gap] = keys[j];
                values[gap] = values[j];
                gap = j;
            }
        }
        values[gap] = -1;
    }
}
