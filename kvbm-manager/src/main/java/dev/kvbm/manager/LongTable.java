package dev.kvbm.manager;

/**
 * An open-addressing hash table from {@code long} keys to non-zero {@code int} values with a fixed capacity (the
 * pool's block count bounds every use): no boxing, no resizing, linear probing with backward-shift deletion. A key
 * and its value share one cache line ({@code table[2i]}, {@code table[2i+1]}); value 0 marks an empty entry. The
 * pool keeps block ids + 1 in one table and child counts in another. Not thread-safe: the pool's lock guards it.
 */
final class LongTable {
    private final long[] table;
    private final int mask;
    private final int capacity;
    private int size;

    /** A table for up to {@code capacity} keys. */
    LongTable(int capacity) {
        int n = Integer.highestOneBit(Math.max(4, capacity) * 2 - 1) << 1; // load factor <= 0.5
        this.table = new long[2 * n];
        this.mask = n - 1;
        this.capacity = capacity;
    }

    private int home(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask; // the high bits of the product mix every bit of the key
    }

    /** {@return the value of {@code key}, or 0 when absent} */
    int get(long key) {
        for (int i = home(key); ; i = (i + 1) & mask) {
            long v = table[2 * i + 1];
            if (v == 0) {
                return 0;
            }
            if (table[2 * i] == key) {
                return (int) v;
            }
        }
    }

    /**
     * Adds {@code delta} to the value of {@code key} (absent counts as 0); a result of 0 removes the key.
     *
     * @return the new value
     */
    int add(long key, int delta) {
        int i = home(key);
        while (true) {
            long v = table[2 * i + 1];
            if (v == 0) {
                if (delta != 0) {
                    if (size == capacity) {
                        throw new IllegalStateException("table of " + capacity + " keys is full (a pool invariant"
                                + " broke)");
                    }
                    table[2 * i] = key;
                    table[2 * i + 1] = delta;
                    size++;
                }
                return delta;
            }
            if (table[2 * i] == key) {
                int c = (int) v + delta;
                if (c == 0) {
                    removeAt(i);
                } else {
                    table[2 * i + 1] = c;
                }
                return c;
            }
            i = (i + 1) & mask;
        }
    }

    /** Removes {@code key}; returns its value (0 when absent). */
    int remove(long key) {
        for (int i = home(key); ; i = (i + 1) & mask) {
            long v = table[2 * i + 1];
            if (v == 0) {
                return 0;
            }
            if (table[2 * i] == key) {
                removeAt(i);
                return (int) v;
            }
        }
    }

    int size() {
        return size;
    }

    /** Empties entry {@code i} and shifts back the entries after it that probed past it. */
    private void removeAt(int i) {
        size--;
        int gap = i;
        for (int j = (i + 1) & mask; table[2 * j + 1] != 0; j = (j + 1) & mask) {
            int h = home(table[2 * j]);
            // Entry j may move to the gap when its home is not in (gap, j] cyclically.
            boolean movable = gap <= j ? (h <= gap || h > j) : (h <= gap && h > j);
            if (movable) {
                table[2 * gap] = table[2 * j];
                table[2 * gap + 1] = table[2 * j + 1];
                gap = j;
            }
        }
        table[2 * gap] = 0;
        table[2 * gap + 1] = 0;
    }
}
