package dev.kvbm.manager;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The pool against a reference model that picks each victim by scanning every inactive block (leaves before
 * parents, then lowest priority, then least recently released), over random request cycles: overlapping prefixes,
 * requests held and released out of order, handle by handle or as a list, priorities, touches, refused
 * duplicates, unregistered blocks given back. Every eviction the pool makes is compared with the model's choice,
 * and the counts after every step.
 */
class BlockPoolModelTest {
    private static final int PAGE = 2;
    private static final int BLOCKS = 12;

    /** What the model knows of one registered block. */
    private static final class Entry {
        final long hash;
        final long parent;
        final boolean hasParent;
        int refs;
        int priority = Integer.MAX_VALUE;
        long tick;

        Entry(long hash, boolean hasParent, long parent) {
            this.hash = hash;
            this.hasParent = hasParent;
            this.parent = parent;
        }
    }

    private final Map<Long, Entry> registered = new HashMap<>();
    private int free = BLOCKS;
    private long tick;

    private int children(Entry e) {
        int n = 0;
        for (Entry c : registered.values()) {
            if (c.hasParent && c.parent == e.hash) {
                n++;
            }
        }
        return n;
    }

    /** The reference choice: a full scan. */
    private Entry victim() {
        Entry best = null;
        boolean bestLeaf = false;
        for (Entry e : registered.values()) {
            if (e.refs > 0) {
                continue;
            }
            boolean leaf = children(e) == 0;
            if (best == null || (leaf && !bestLeaf)
                    || (leaf == bestLeaf && (e.priority < best.priority
                    || (e.priority == best.priority && e.tick < best.tick)))) {
                best = e;
                bestLeaf = leaf;
            }
        }
        return best;
    }

    private int inactive() {
        return (int) registered.values().stream().filter(e -> e.refs == 0).count();
    }

    private void released(Entry e, int priority) {
        e.priority = Math.min(e.priority, priority);
        if (--e.refs == 0) {
            e.tick = ++tick;
        }
    }

    /** A request the test holds: its shared blocks and the priority each handle gives on release. */
    private record Held(List<ImmutableBlock> blocks, int[] priorities) {
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void everyEvictionIsTheOneTheReferenceModelPicks(long seed) {
        Random random = new Random(seed);
        BlockPool pool = BlockPool.create("model", BLOCKS, PAGE, BlockPool.Duplicates.REFUSE);
        List<Long> evicted = new ArrayList<>();
        pool.onEviction(metas -> metas.forEach(m -> evicted.add(m.sequenceHash())));
        List<Held> held = new ArrayList<>();
        int evictions = 0;
        int notPlainLru = 0; // victims that recency alone would not have picked

        for (int step = 0; step < 3000; step++) {
            int op = random.nextInt(10);
            if (op < 5) {
                // A request: tokens from a small alphabet, so prefixes overlap often.
                int blocks = 1 + random.nextInt(4);
                int[] tokens = new int[blocks * PAGE];
                for (int i = 0; i < tokens.length; i++) {
                    tokens[i] = random.nextInt(2);
                }
                TokenBlockSequence seq = TokenBlockSequence.of(tokens, PAGE, 7);
                long[] hashes = seq.sequenceHashes();
                boolean matchFirst = random.nextInt(4) != 0; // else every block is allocated: duplicates refused
                int expectedHit = matchFirst ? prefixLength(hashes) : 0;
                List<ImmutableBlock> hit = matchFirst ? pool.match(hashes) : List.of();
                assertThat(hit).as("step %d: the longest registered prefix", step).hasSize(expectedHit);
                for (ImmutableBlock b : hit) {
                    registered.get(b.sequenceHash()).refs++;
                }
                
                int need = blocks - hit.size();
                int available = free + inactive();
                if (need > available) {
                    assertThatThrownBy(() -> pool.allocate(need)).isInstanceOf(NotEnoughBlocksException.class);
                    pool.release(hit);
                    for (int i = hit.size() - 1; i >= 0; i--) {
                        released(registered.get(hit.get(i).sequenceHash()), Integer.MAX_VALUE);
                    }
                    continue;
                }
                List<Long> expected = new ArrayList<>();
                int fromFree = Math.min(free, need);
                free -= fromFree;
                for (int i = fromFree; i < need; i++) {
                    Entry v = victim();
                    if (registered.values().stream().anyMatch(e -> e.refs == 0 && e.tick < v.tick)) {
                        notPlainLru++;
                    }
                    registered.remove(v.hash);
                    expected.add(v.hash);
                }
                evicted.clear();
                List<MutableBlock> fresh = pool.allocate(need);
                assertThat(evicted).as("step %d: the blocks evicted, in order", step).isEqualTo(expected);
                evictions += expected.size();
                if (random.nextInt(8) == 0) {
                    fresh.forEach(MutableBlock::close); // the request failed before registering
                    free += need;
                    pool.release(hit);
                    for (int i = hit.size() - 1; i >= 0; i--) {
                        released(registered.get(hit.get(i).sequenceHash()), Integer.MAX_VALUE);
                    }
                    continue;
                }
                for (int i = 0; i < need; i++) {
                    fresh.get(i).complete(seq, hit.size() + i);
                }
                List<ImmutableBlock> mine = new ArrayList<>(hit);
                for (ImmutableBlock b : pool.register(fresh)) {
                    Entry e = registered.get(b.sequenceHash());
                    if (e == null) {
                        int index = mine.size();
                        e = new Entry(b.sequenceHash(), index > 0, index > 0 ? hashes[index - 1] : 0);
                        registered.put(e.hash, e);
                    } else {
                        free++; // refused: the new block went back to the free list
                    }
                    e.refs++;
                    mine.add(b);
                }
                int[] priorities = new int[mine.size()];
                for (int i = 0; i < priorities.length; i++) {
                    priorities[i] = random.nextInt(5) == 0 ? random.nextInt(3) : Integer.MAX_VALUE;
                    if (priorities[i] != Integer.MAX_VALUE) {
                        mine.get(i).priority(priorities[i]);
                    }
                }
                held.add(new Held(mine, priorities));
            } else if (op < 9 && !held.isEmpty()) {
                Held h = held.remove(random.nextInt(held.size()));
                if (random.nextBoolean()) {
                    pool.release(h.blocks()); // counts as released last block first
                    for (int i = h.blocks().size() - 1; i >= 0; i--) {
                        released(registered.get(h.blocks().get(i).sequenceHash()), h.priorities()[i]);
                    }
                } else {
                    List<Integer> order = new ArrayList<>();
                    for (int i = 0; i < h.blocks().size(); i++) {
                        order.add(i);
                    }
                    java.util.Collections.shuffle(order, random);
                    for (int i : order) {
                        h.blocks().get(i).close();
                        released(registered.get(h.blocks().get(i).sequenceHash()), h.priorities()[i]);
                    }
                }
            } else if (!registered.isEmpty()) {
                List<Long> hashes = new ArrayList<>(registered.keySet());
                java.util.Collections.sort(hashes);
                long[] touch = {hashes.get(random.nextInt(hashes.size())), random.nextLong()};
                pool.touch(touch);
                Entry e = registered.get(touch[0]);
                if (e.refs == 0) {
                    e.tick = ++tick;
                }
            }
            BlockPool.Stats stats = pool.stats();
            assertThat(stats.free()).as("step %d free", step).isEqualTo(free);
            assertThat(stats.inactive()).as("step %d inactive", step).isEqualTo(inactive());
            assertThat(stats.active()).as("step %d active", step).isEqualTo(BLOCKS - free - inactive());
        }
        assertThat(evictions).as("the workload evicts").isGreaterThan(500);
        assertThat(notPlainLru).as("and leaves and priorities change the order").isGreaterThan(50);
        for (Held h : held) {
            pool.release(h.blocks());
        }
        assertThat(pool.stats().active()).isZero();
        pool.close();
    }

    private int prefixLength(long[] hashes) {
        int n = 0;
        while (n < hashes.length && registered.containsKey(hashes[n])) {
            n++;
        }
        return n;
    }
}
