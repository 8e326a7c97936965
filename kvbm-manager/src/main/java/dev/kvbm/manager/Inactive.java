package dev.kvbm.manager;

import java.util.Map;
import java.util.TreeMap;

/**
 * A pool's inactive blocks in eviction order — leaves (no resident child) before parents, then lowest priority,
 * then least recently released; among parents (taken only when no leaf is left) the deepest first — in amortised
 * O(1) for the common operations.
 *
 * <p>Every inactive block starts in a <em>candidate</em> list of its priority, kept in release order: release and
 * touch append (their tick is the newest). A revived block stays where it was until it is released again or reaches
 * the front still held, and only then leaves, so a match writes no list (it is on the engine's path to scheduling a
 * request; the release comes after the request). Whether a block is a leaf is looked at only when it
 * reaches the front: {@link #first()} moves a front block that has resident children to a <em>parent</em> list of
 * its priority and looks again, and {@link #leafAgain} moves a parent whose last child left back among the
 * candidates, at its tick's place (found by walking from both ends at once; usually the front, since a parent was
 * released no later than the blocks still in front of it). A block gaining a child while inactive is not moved:
 * it is found out when it reaches the front. So a request's chain released tail first ({@link BlockPool#release})
 * is evicted tail first without any block changing lists; a block changes lists only when it reaches the front
 * with resident children, and when its last child leaves after that. Not thread-safe: the pool's lock guards it.
 */
final class Inactive {

    /** The inactive blocks of one (candidate or parent, priority), oldest release first. */
    static final class Bucket {
        final boolean parents;
        final int priority;
        BlockPool.Slot head;
        BlockPool.Slot tail;
        boolean inMap = true;

        Bucket(boolean parents, int priority) {
            this.parents = parents;
            this.priority = priority;
        }
    }

    /**
     * Buckets by priority. An emptied bucket stays (blocks of one priority come and go all the time) until
     * {@link #first()} finds it at the front.
     */
    private final TreeMap<Integer, Bucket> candidates = new TreeMap<>();
    private final TreeMap<Integer, Bucket> parents = new TreeMap<>();
    private Bucket lastCandidate; // the bucket most recently linked into, to skip the map lookup
    private Bucket lastParent;
    private Bucket firstCandidate; // the lowest-priority bucket of each map, or null when the map is empty
    private Bucket firstParent;
    private int size;

    int size() {
        return size;
    }

    /**
     * {@return the block to evict next; there must be one} The lowest-priority, least recently released leaf; a
     * parent only when every inactive block has resident children, and then the deepest of the lowest priority.
     */
    BlockPool.Slot first() {
        while (true) {
            Bucket b = firstCandidate != null && firstCandidate.head != null ? firstCandidate : firstNonEmpty(false);
            if (b == null) {
                break;
            }
            BlockPool.Slot s = b.head;
            if (s.refCount > 0) { // revived and still held: it leaves the list now
                drop(b, s);
            } else if (s.children == 0) {
                return s;
            } else {
                detach(b, s); // a parent: it waits among the parents until its last child leaves
                insert(bucket(true, s.priority), s);
            }
        }
        while (true) {
            Bucket p = firstParent != null && firstParent.head != null ? firstParent : firstNonEmpty(true);
            BlockPool.Slot s = p.head;
            if (s.refCount == 0) {
                return s;
            }
            drop(p, s);
        }
    }

    /** The first non-empty bucket of candidates or parents, dropping the emptied ones before it; null when none. */
    private Bucket firstNonEmpty(boolean ofParents) {
        TreeMap<Integer, Bucket> map = ofParents ? parents : candidates;
        Bucket b = ofParents ? firstParent : firstCandidate;
        while (b != null && b.head == null) {
            b.inMap = false;
            map.pollFirstEntry();
            Map.Entry<Integer, Bucket> e = map.firstEntry();
            b = e == null ? null : e.getValue();
        }
        if (ofParents) {
            firstParent = b;
        } else {
            firstCandidate = b;
        }
        return b;
    }

    /**
     * Adds a released or touched block (its tick set) among the candidates, at its tick's place; a block revived
     * while still in its list leaves its old place first.
     */
    void link(BlockPool.Slot s) {
        size++;
        if (s.bucket != null) {
            detach(s.bucket, s);
        }
        Bucket b = lastCandidate; // the usual case, kept small enough to inline: the same priority as last time
        if (b == null || b.priority != s.priority || !b.inMap) {
            b = bucket(false, s.priority);
        }
        insert(b, s);
    }

    /**
     * An inactive block was revived (a holder took it): it stops counting at once but stays where it is in its list,
     * so a match does no list work. It leaves the list when it is released again ({@link #link}), or when it
     * reaches the front still held ({@link #first()}), whichever comes first.
     */
    void revive(BlockPool.Slot s) {
        size--;
    }

    /** A parent's last resident child left: when it waits among the parents, it becomes a candidate again. */
    void leafAgain(BlockPool.Slot s) {
        Bucket b = s.bucket;
        if (b.parents) {
            detach(b, s);
            insert(bucket(false, s.priority), s);
        }
    }

    /** Removes an inactive block (evicted, or touched before it is linked again). */
    void unlink(BlockPool.Slot s) {
        drop(s.bucket, s);
        size--;
    }

    /** Takes {@code s} out of its list. */
    private static void drop(Bucket b, BlockPool.Slot s) {
        detach(b, s);
        s.bucket = null;
    }

    private Bucket bucket(boolean ofParents, int priority) {
        Bucket b = ofParents ? lastParent : lastCandidate;
        if (b != null && b.priority == priority && b.inMap) {
            return b;
        }
        TreeMap<Integer, Bucket> map = ofParents ? parents : candidates;
        b = map.get(priority);
        if (b == null) {
            b = new Bucket(ofParents, priority);
            map.put(priority, b);
            Bucket first = ofParents ? firstParent : firstCandidate;
            if (first == null || priority < first.priority) {
                if (ofParents) {
                    firstParent = b;
                } else {
                    firstCandidate = b;
                }
            }
        }
        if (ofParents) {
            lastParent = b;
        } else {
            lastCandidate = b;
        }
        return b;
    }

    /**
     * {@return true when {@code s} goes before {@code x} in a list of {@code b}'s kind} Candidates: least recently
     * released first. Parents: deepest first (the one furthest into its sequence, whose eviction strands the fewest
     * blocks), then least recently released.
     */
    private static boolean precedes(Bucket b, BlockPool.Slot s, BlockPool.Slot x) {
        if (b.parents && s.position != x.position) {
            return s.position > x.position;
        }
        return s.releasedTick < x.releasedTick;
    }

    /** Puts {@code s} into {@code b} at its place in that list's order. */
    private static void insert(Bucket b, BlockPool.Slot s) {
        s.bucket = b;
        BlockPool.Slot tail = b.tail;
        if (tail == null) {
            s.prev = null;
            s.next = null;
            b.head = s;
            b.tail = s;
            return;
        }
        if (!precedes(b, s, tail)) { // the usual case: just released
            s.prev = tail;
            s.next = null;
            tail.next = s;
            b.tail = s;
            return;
        }
        // Out of order (a block changing lists keeps its release tick and depth): walk from both ends.
        BlockPool.Slot fromHead = b.head;
        BlockPool.Slot fromTail = tail;
        while (true) {
            if (precedes(b, s, fromHead)) {
                s.next = fromHead;
                s.prev = fromHead.prev;
                if (fromHead.prev == null) {
                    b.head = s;
                } else {
                    fromHead.prev.next = s;
                }
                fromHead.prev = s;
                return;
            }
            if (!precedes(b, s, fromTail)) {
                s.prev = fromTail;
                s.next = fromTail.next;
                if (fromTail.next == null) {
                    b.tail = s;
                } else {
                    fromTail.next.prev = s;
                }
                fromTail.next = s;
                return;
            }
            fromHead = fromHead.next;
            fromTail = fromTail.prev;
        }
    }

    private static void detach(Bucket b, BlockPool.Slot s) {
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
    }
}
