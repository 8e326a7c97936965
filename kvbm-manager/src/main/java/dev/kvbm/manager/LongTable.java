package dev.kvbm.manager;

/**
 * An open-addressing hash table from {@code long} keys to non-zero {@code int} values: no boxing, linear probing
 * with backward-shift deletion, a load factor of at most 1/spread (chosen at construction; the table doubles when
 * it would pass it). A key and its value share one cache line ({@code table[2i]}, {@code table[2i+1]}); value 0
 * marks an empty entry. The pool keeps the child counts of absent parents in one (usually a handful of keys, so it
 * stays small and in cache); its registry is a {@link RefTable}. Not thread-safe: the pool's lock guards it.
 */
final class LongTable {
    private final int spread; // at least this many entries per key: the load stays <= 1/spread
    private long[] table;
    private int mask;
    private int size;

    /** A table that holds {@code expected} keys without growing, at a load of at most one half. */
    LongTable(int expected) {
        this(expected, 2);
    }

    /**
     * A table that holds {@code expected} keys without growing.
     *
     * @param spread at least this many entries per key, at least 2: a sparser table shifts fewer entries back on a
     *               removal
     */
    LongTable(int expected, int spread) {
        if (spread < 2) {
            throw new IllegalArgumentException("a linear-probing table needs at least 2 entries per key, got " + spread);
        }
        this.spread = spread;
        int n = Integer.highestOneBit(Math.max(4, expected) * spread - 1) << 1;
        this.table = new long[2 * n];
        this.mask = n - 1;
    }

    private int home(long key) {
        return home(key, mask);
    }

    private static int home(long key, int mask) {
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
     * Maps {@code key} to {@code value} unless it is mapped already: one probe for the lookup and the insertion.
     *
     * @param value not 0
     * @return the value {@code key} had, or 0 when it was absent and now maps to {@code value}
     */
    int putIfAbsent(long key, int value) {
        for (int i = home(key); ; i = (i + 1) & mask) {
            long v = table[2 * i + 1];
            if (v == 0) {
                insertAt(i, key, value);
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
        for (int i = home(key); ; i = (i + 1) & mask) {
            long v = table[2 * i + 1];
            if (v == 0) {
                if (delta != 0) {
                    insertAt(i, key, delta);
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

    /** Fills the empty entry {@code i}, first doubling the table when that would pass a load of one half. */
    private void insertAt(int i, long key, long value) {
        if (spread * (size + 1) > mask + 1) {
            grow();
            i = home(key);
            while (table[2 * i + 1] != 0) {
                i = (i + 1) & mask;
            }
        }
        table[2 * i] = key;
        table[2 * i + 1] = value;
        size++;
    }

    private void grow() {
        long[] old = table;
        int n = 2 * (mask + 1);
        long[] grown = new long[2 * n];
        int m = n - 1;
        for (int j = 0; j < old.length; j += 2) {
            if (old[j + 1] != 0) {
                int i = home(old[j], m);
                while (grown[2 * i + 1] != 0) {
                    i = (i + 1) & m;
                }
                grown[2 * i] = old[j];
                grown[2 * i + 1] = old[j + 1];
            }
        }
        table = grown;
        mask = m;
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
