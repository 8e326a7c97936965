package dev.kvbm.manager;

import java.util.Map;
import java.util.TreeMap;

/**
 * A pool's inactive blocks in eviction order — leaves (no resident child) before parents, then lowest priority,
 * then least recently released — in O(1) for the common operations: one intrusive list per (leaf or not,
 * priority), kept in release order. Release and touch append (their tick is the newest); revive unlinks; a block
 * whose leaf status changes moves to the other list at its tick's place, found by walking from both ends at once.
 * Not thread-safe: the pool's lock guards it.
 */
final class Inactive {

    /** The inactive blocks of one (leaf or not, priority), oldest release first. */
    static final class Bucket {
        final boolean leaf;
        final int priority;
        BlockPool.Slot head;
        BlockPool.Slot tail;
        boolean inMap = true;

        Bucket(boolean leaf, int priority) {
            this.leaf = leaf;
            this.priority = priority;
        }
    }

    /**
     * Buckets by priority: leaves, then parents. An emptied bucket stays (a leaf evicted, its parent becoming the
     * next leaf, would otherwise remove and re-create one per eviction) until {@link #first()} finds it at the
     * front.
     */
    private final TreeMap<Integer, Bucket> leaves = new TreeMap<>();
    private final TreeMap<Integer, Bucket> parents = new TreeMap<>();
    private Bucket lastLeaf; // the bucket most recently linked into, to skip the map lookup
    private Bucket lastParent;
    private Bucket firstLeaf; // the lowest-priority bucket of each map, or null when the map is empty
    private Bucket firstParent;
    private int size;

    int size() {
        return size;
    }

    /** {@return the block to evict next; there must be one} */
    BlockPool.Slot first() {
        Bucket b = firstLeaf != null && firstLeaf.head != null ? firstLeaf : firstNonEmpty(true);
        return (b != null ? b : firstNonEmpty(false)).head;
    }

    /** The first non-empty bucket of leaves or parents, dropping the emptied ones before it; null when none. */
    private Bucket firstNonEmpty(boolean leaf) {
        TreeMap<Integer, Bucket> map = leaf ? leaves : parents;
        Bucket b = leaf ? firstLeaf : firstParent;
        while (b != null && b.head == null) {
            b.inMap = false;
            map.pollFirstEntry();
            Map.Entry<Integer, Bucket> e = map.firstEntry();
            b = e == null ? null : e.getValue();
        }
        if (leaf) {
            firstLeaf = b;
        } else {
            firstParent = b;
        }
        return b;
    }

    /** Adds a released block (its tick set) at its place in its bucket. */
    void link(BlockPool.Slot s) {
        boolean leaf = s.children == 0;
        Bucket b = leaf ? lastLeaf : lastParent;
        if (b == null || b.priority != s.priority || !b.inMap) {
            TreeMap<Integer, Bucket> map = leaf ? leaves : parents;
            b = map.get(s.priority);
            if (b == null) {
                b = new Bucket(leaf, s.priority);
                map.put(s.priority, b);
                Bucket first = leaf ? firstLeaf : firstParent;
                if (first == null || b.priority < first.priority) {
                    if (leaf) {
                        firstLeaf = b;
                    } else {
                        firstParent = b;
                    }
                }
            }
            if (leaf) {
                lastLeaf = b;
            } else {
                lastParent = b;
            }
        }
        s.bucket = b;
        size++;
        BlockPool.Slot tail = b.tail;
        if (tail == null) {
            s.prev = null;
            s.next = null;
            b.head = s;
            b.tail = s;
            return;
        }
        if (tail.releasedTick <= s.releasedTick) { // the usual case: just released
            s.prev = tail;
            s.next = null;
            tail.next = s;
            b.tail = s;
            return;
        }
        // Out of order (a block whose leaf status changed keeps its release tick): walk from both ends.
        BlockPool.Slot fromHead = b.head;
        BlockPool.Slot fromTail = tail;
        while (true) {
            if (fromHead.releasedTick > s.releasedTick) {
                insertBefore(b, fromHead, s);
                return;
            }
            if (fromTail.releasedTick <= s.releasedTick) {
                insertAfter(fromTail, s, b);
                return;
            }
            fromHead = fromHead.next;
            fromTail = fromTail.prev;
        }
    }

    private static void insertBefore(Bucket b, BlockPool.Slot at, BlockPool.Slot s) {
        s.next = at;
        s.prev = at.prev;
        if (at.prev == null) {
            b.head = s;
        } else {
            at.prev.next = s;
        }
        at.prev = s;
    }

    private static void insertAfter(BlockPool.Slot at, BlockPool.Slot s, Bucket b) {
        s.prev = at;
        s.next = at.next;
        if (at.next == null) {
            b.tail = s;
        } else {
            at.next.prev = s;
        }
        at.next = s;
    }

    /** Removes an inactive block. */
    void unlink(BlockPool.Slot s) {
        Bucket b = s.bucket;
        if (s.prev == null) {
            b.head = s.next;
        } else {
            s.prev.next = s.next;
        }
        if (s.next == null) {
            b.tail = s.prev;
        } else {
            s.next.prev = s.prev;
        }
        s.prev = null;
        s.next = null;
        s.bucket = null;
        size--;
    }
}
