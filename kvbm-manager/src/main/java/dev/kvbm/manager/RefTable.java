package dev.kvbm.manager;

/**
 * An open-addressing hash table from {@code long} keys to objects, of a fixed capacity: linear probing with
 * backward-shift deletion, keys and values in two parallel arrays, so a lookup loads the key's line and the value's
 * line at once and then the value itself, where a table of ids would go on through an array of objects. The pool's
 * registry: sequence hash to registered block, at most a quarter full. Not thread-safe: the pool's lock guards it.
 *
 * @param <V> the values; null marks an empty entry
 */
final class RefTable<V> {
    private final long[] keys;
    private final Object[] values;
    private final int mask;
    private final int capacity;
    private int size;

    /**
     * A table for at most {@code capacity} keys.
     *
     * @param capacity the most keys it will hold, at least 1
     * @param spread   entries per key of capacity, at least 2: the load stays at most 1/spread
     */
    RefTable(int capacity, int spread) {
        if (capacity < 1 || spread < 2) {
            throw new IllegalArgumentException("a table needs a capacity >= 1 and at least 2 entries per key, got "
                    + capacity + " and " + spread);
        }
        int n = Integer.highestOneBit(Math.max(4, capacity * spread) - 1) << 1;
        this.keys = new long[n];
        this.values = new Object[n];
        this.mask = n - 1;
        this.capacity = capacity;
    }

    private int home(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h >>> 40) & mask; // the high bits of the product mix every bit of the key
    }

    /** {@return the value of {@code key}, or null when absent} */
    @SuppressWarnings("unchecked")
    V get(long key) {
        for (int i = home(key); ; i = (i + 1) & mask) {
            Object v = values[i];
            if (v == null || keys[i] == key) {
                return (V) v;
            }
        }
    }

    /**
     * Maps {@code key} to {@code value} unless it is mapped already: one probe for the lookup and the insertion.
     *
     * @return the value {@code key} had, or null when it was absent and now maps to {@code value}
     * @throws IllegalStateException when the table holds its capacity of keys already
     */
    @SuppressWarnings("unchecked")
    V putIfAbsent(long key, V value) {
        for (int i = home(key); ; i = (i + 1) & mask) {
            Object v = values[i];
            if (v == null) {
                if (size == capacity) {
                    throw new IllegalStateException("the table holds its capacity of " + capacity + " keys");
                }
                keys[i] = key;
                values[i] = value;
                size++;
                return null;
            }
            if (keys[i] == key) {
                return (V) v;
            }
        }
    }

    /** Removes {@code key}; returns its value (null when absent). */
    @SuppressWarnings("unchecked")
    V remove(long key) {
        for (int i = home(key); ; i = (i + 1) & mask) {
            Object v = values[i];
            if (v == null) {
                return null;
            }
            if (keys[i] == key) {
                removeAt(i);
                return (V) v;
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
        for (int j = (i + 1) & mask; values[j] != null; j = (j + 1) & mask) {
            int h = home(keys[j]);
            // Entry j may move to the gap when its home is not in (gap, j] cyclically.
            boolean movable = gap <= j ? (h <= gap || h > j) : (h <= gap && h > j);
            if (movable) {
                keys[gap] = keys[j];
                values[gap] = values[j];
                gap = j;
            }
        }
        keys[gap] = 0;
        values[gap] = null;
    }
}
