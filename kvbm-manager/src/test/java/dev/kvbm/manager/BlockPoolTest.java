package dev.kvbm.manager;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The pool's semantics, scenario by scenario. */
class BlockPoolTest {
    private static final int PAGE = 4;
    private static final long SALT = 1337;

    private static TokenBlockSequence sequence(int blocks, int first) {
        return TokenBlockSequence.of(IntStream.range(first, first + blocks * PAGE).toArray(), PAGE, SALT);
    }

    /** Allocates, completes and registers every complete block of {@code seq}. */
    private static List<ImmutableBlock> store(BlockPool pool, TokenBlockSequence seq) {
        List<MutableBlock> blocks = pool.allocate(seq.completeBlocks());
        for (int i = 0; i < blocks.size(); i++) {
            blocks.get(i).complete(seq, i);
        }
        return pool.register(blocks);
    }

    private static void release(List<ImmutableBlock> blocks) {
        blocks.forEach(ImmutableBlock::close);
    }

    @Test
    void aSecondRequestReusesTheFirstRequestsPrefix() {
        BlockPool pool = BlockPool.create("test", 16, PAGE, BlockPool.Duplicates.REFUSE);
        TokenBlockSequence first = sequence(4, 0);
        List<ImmutableBlock> stored = store(pool, first);
        List<Integer> ids = stored.stream().map(ImmutableBlock::blockId).toList();
        release(stored);
        assertThat(pool.stats().inactive()).isEqualTo(4);

        // Same first three blocks, different fourth: three blocks matched, the same block ids, revived.
        int[] tokens = first.tokens();
        tokens[13] = 999;
        TokenBlockSequence second = TokenBlockSequence.of(tokens, PAGE, SALT);
        List<ImmutableBlock> matched = pool.match(second.sequenceHashes());
        assertThat(matched).extracting(ImmutableBlock::blockId).containsExactlyElementsOf(ids.subList(0, 3));
        assertThat(matched).extracting(ImmutableBlock::sequenceHash)
                .containsExactly(second.sequenceHashes()[0], second.sequenceHashes()[1], second.sequenceHashes()[2]);
        assertThat(pool.stats().active()).isEqualTo(3);
        assertThat(pool.stats().inactive()).isEqualTo(1);
        assertThat(pool.stats().matchedBlocks()).isEqualTo(3);
        assertThat(pool.stats().missedBlocks()).isEqualTo(1);
        release(matched);
        for (int absurd : new int[] {Integer.MAX_VALUE, 1 << 30, 17}) {
            assertThatThrownBy(() -> pool.allocate(absurd)).isInstanceOf(NotEnoughBlocksException.class)
                    .hasMessageContaining("cannot allocate " + absurd + " blocks: 16 are free or evictable");
        }
    }

    @Test
    void allocationBeyondFreeAndEvictableNamesAskedAndAvailableAndTakesNothing() {
        BlockPool pool = BlockPool.create("G1 test", 4, PAGE, BlockPool.Duplicates.REFUSE);
        List<MutableBlock> held = pool.allocate(3);
        assertThatThrownBy(() -> pool.allocate(2)).isInstanceOf(NotEnoughBlocksException.class)
                .hasMessageContaining("cannot allocate 2 blocks: 1 are free or evictable")
                .satisfies(e -> assertThat(((NotEnoughBlocksException) e).available()).isEqualTo(1));
        assertThat(pool.stats().free()).isEqualTo(1);
        held.forEach(MutableBlock::close);
        assertThat(pool.stats().free()).isEqualTo(4);
    }

    @Test
    void evictionTakesFreeBlocksFirstThenLowestPriorityThenLeastRecentlyReleased() {
        BlockPool pool = BlockPool.create("test", 4, PAGE, BlockPool.Duplicates.REFUSE);
        // Three unrelated one-block sequences, released in order a, b, c; b with a low priority.
        TokenBlockSequence a = sequence(1, 100);
        TokenBlockSequence b = sequence(1, 200);
        TokenBlockSequence c = sequence(1, 300);
        List<ImmutableBlock> sa = store(pool, a);
        List<ImmutableBlock> sb = store(pool, b);
        List<ImmutableBlock> sc = store(pool, c);
        release(sa);
        sb.getFirst().priority(0).close();
        release(sc);
        // One free block remains: it goes first, nothing is evicted.
        pool.allocate(1).forEach(MutableBlock::close);
        assertThat(pool.isRegistered(a.sequenceHash(0))).isTrue();
        // Now the free one and then the lowest priority (b) before the least recently released (a).
        List<MutableBlock> two = pool.allocate(2);
        assertThat(pool.isRegistered(b.sequenceHash(0))).isFalse();
        assertThat(pool.isRegistered(a.sequenceHash(0))).isTrue();
        List<MutableBlock> one = pool.allocate(1);
        assertThat(pool.isRegistered(a.sequenceHash(0))).isFalse();
        assertThat(pool.isRegistered(c.sequenceHash(0))).isTrue();
        two.forEach(MutableBlock::close);
        one.forEach(MutableBlock::close);
    }

    @Test
    void aParentRevivedWhileWaitingAmongTheParentsIsNeverEvictedWhileHeld() {
        // A revived block stays in its list until released or found at the front still held. Here the front of the
        // parents list is such a block: eviction must pass over it to the next parent, never take the held one.
        BlockPool pool = BlockPool.create("test", 5, PAGE, BlockPool.Duplicates.REFUSE);
        TokenBlockSequence chainA = sequence(2, 100); // a -> its child
        TokenBlockSequence chainP = sequence(2, 200); // p -> its child
        TokenBlockSequence x = sequence(1, 300);
        List<ImmutableBlock> sa = store(pool, chainA);
        List<ImmutableBlock> sp = store(pool, chainP);
        List<ImmutableBlock> sx = store(pool, x);
        int pId = sp.getFirst().blockId();
        sa.getFirst().close(); // the children stay held, so a and p are parents once they reach the front
        sp.getFirst().close();
        release(sx);
        List<MutableBlock> first = pool.allocate(1); // a and p move to the parents; x, the only leaf, goes
        assertThat(pool.isRegistered(x.sequenceHash(0))).isFalse();
        List<ImmutableBlock> a = pool.match(new long[] {chainA.sequenceHash(0)}); // revived among the parents
        assertThat(a).hasSize(1);
        assertThat(pool.stats().inactive()).isEqualTo(1);

        List<MutableBlock> second = pool.allocate(1);
        assertThat(second.getFirst().blockId()).isEqualTo(pId);
        assertThat(pool.isRegistered(chainA.sequenceHash(0))).isTrue();
        assertThat(pool.isRegistered(chainP.sequenceHash(0))).isFalse();
        assertThatThrownBy(() -> pool.allocate(1)).isInstanceOf(NotEnoughBlocksException.class);

        // Released again, a goes back among the inactive blocks and is the next to go.
        release(a);
        assertThat(pool.stats().inactive()).isEqualTo(1);
        List<MutableBlock> third = pool.allocate(1);
        assertThat(pool.isRegistered(chainA.sequenceHash(0))).isFalse();
        first.forEach(MutableBlock::close);
        second.forEach(MutableBlock::close);
        third.forEach(MutableBlock::close);
        release(sa.subList(1, 2));
        release(sp.subList(1, 2));
        assertThat(pool.stats().free() + pool.stats().inactive()).isEqualTo(5);
    }

    @Test
    void extremePrioritiesKeepTheirOrder() {
        // The handle stores its priority as an offset from Integer.MAX_VALUE, so the extremes wrap: MIN_VALUE must
        // still be the lowest, MAX_VALUE the same as never setting one, and a negative below a positive.
        BlockPool pool = BlockPool.create("test", 4, PAGE, BlockPool.Duplicates.REFUSE);
        TokenBlockSequence dflt = sequence(1, 100);
        TokenBlockSequence max = sequence(1, 200);
        TokenBlockSequence positive = sequence(1, 300);
        TokenBlockSequence min = sequence(1, 400);
        List<ImmutableBlock> sd = store(pool, dflt);
        List<ImmutableBlock> sx = store(pool, max);
        List<ImmutableBlock> sp = store(pool, positive);
        List<ImmutableBlock> sm = store(pool, min);
        release(sd);
        sx.getFirst().priority(Integer.MAX_VALUE).close(); // released after dflt: evicted after it
        sp.getFirst().priority(5).close();
        sm.getFirst().priority(Integer.MIN_VALUE).close();
        List<Long> order = new ArrayList<>();
        pool.onEviction(metas -> metas.forEach(m -> order.add(m.sequenceHash())));
        List<MutableBlock> all = pool.allocate(4);
        assertThat(order).containsExactly(min.sequenceHash(0), positive.sequenceHash(0), dflt.sequenceHash(0),
                max.sequenceHash(0));
        all.forEach(MutableBlock::close);
    }

    @Test
    void touchMakesAnInactiveBlockRecentlyUsed() {
        BlockPool pool = BlockPool.create("test", 2, PAGE, BlockPool.Duplicates.REFUSE);
        TokenBlockSequence a = sequence(1, 100);
        TokenBlockSequence b = sequence(1, 200);
        release(store(pool, a));
        release(store(pool, b));
        pool.touch(new long[] {a.sequenceHash(0)});
        List<MutableBlock> one = pool.allocate(1);
        assertThat(pool.isRegistered(b.sequenceHash(0))).as("b, now the least recently used, went first").isFalse();
        assertThat(pool.isRegistered(a.sequenceHash(0))).isTrue();
        one.forEach(MutableBlock::close);
    }

    @Test
    void leavesAreEvictedBeforeTheirParents() {
        BlockPool pool = BlockPool.create("test", 3, PAGE, BlockPool.Duplicates.REFUSE);
        TokenBlockSequence seq = sequence(3, 0);
        List<ImmutableBlock> chain = store(pool, seq);
        // Released root first, so by recency alone the root would go first; it has resident children, so not.
        chain.get(0).close();
        chain.get(1).close();
        chain.get(2).close();
        List<MutableBlock> one = pool.allocate(1);
        assertThat(pool.isRegistered(seq.sequenceHash(2))).as("the leaf").isFalse();
        assertThat(pool.isRegistered(seq.sequenceHash(1))).isTrue();
        List<MutableBlock> two = pool.allocate(1);
        assertThat(pool.isRegistered(seq.sequenceHash(1))).as("then its parent, now a leaf").isFalse();
        assertThat(pool.isRegistered(seq.sequenceHash(0))).isTrue();
        // A prefix match still finds the root.
        List<ImmutableBlock> root = pool.match(seq.sequenceHashes());
        assertThat(root).hasSize(1);
        release(root);
        one.forEach(MutableBlock::close);
        two.forEach(MutableBlock::close);
    }

    @Test
    void whenOnlyAncestorsOfAHeldBlockAreLeftTheDeepestGoesFirstAndTheLongestPrefixStaysMatchable() {
        // Dynamo v2's lineage case: a chain of 1,000 blocks whose last block is held, in a pool with nothing else.
        int n = 1000;
        BlockPool pool = BlockPool.create("test", n, PAGE, BlockPool.Duplicates.REFUSE);
        TokenBlockSequence seq = sequence(n, 0);
        List<ImmutableBlock> chain = store(pool, seq);
        for (int i = 0; i < n - 1; i++) { // root first: by recency alone the root would be the first to go
            chain.get(i).close();
        }
        List<MutableBlock> one = pool.allocate(1);
        assertThat(pool.isRegistered(seq.sequenceHash(n - 2))).as("the deepest inactive block went").isFalse();
        assertThat(pool.registeredPrefixLength(seq.sequenceHashes())).as("the prefix still matchable")
                .isEqualTo(n - 2);
        List<MutableBlock> ten = pool.allocate(10);
        assertThat(pool.registeredPrefixLength(seq.sequenceHashes())).isEqualTo(n - 12);
        one.forEach(MutableBlock::close);
        ten.forEach(MutableBlock::close);
        chain.getLast().close();
    }

    @Test
    void aDuplicateIsRefusedByDefaultOrKeptPrivateWhenAllowed() {
        TokenBlockSequence seq = sequence(1, 0);
        BlockPool refuse = BlockPool.create("refuse", 4, PAGE, BlockPool.Duplicates.REFUSE);
        List<ImmutableBlock> first = store(refuse, seq);
        List<ImmutableBlock> second = store(refuse, seq);
        assertThat(second.getFirst().blockId()).isEqualTo(first.getFirst().blockId());
        assertThat(refuse.stats().free()).as("the refused duplicate was freed").isEqualTo(3);
        release(first);
        assertThat(refuse.stats().inactive()).as("still held by the second request").isZero();
        release(second);
        assertThat(refuse.stats().inactive()).isEqualTo(1);

        BlockPool allow = BlockPool.create("allow", 4, PAGE, BlockPool.Duplicates.ALLOW);
        List<ImmutableBlock> a1 = store(allow, seq);
        List<ImmutableBlock> a2 = store(allow, seq);
        assertThat(a2.getFirst().blockId()).isNotEqualTo(a1.getFirst().blockId());
        assertThat(a2.getFirst().isDuplicate()).isTrue();
        List<ImmutableBlock> matched = allow.match(seq.sequenceHashes());
        assertThat(matched.getFirst().blockId()).as("match returns the primary").isEqualTo(a1.getFirst().blockId());
        release(a2);
        assertThat(allow.stats().free()).as("a released duplicate is freed, not kept").isEqualTo(3);
        release(a1);
        release(matched);
    }

    @Test
    void aSharedBlockIsFreedOnlyByItsLastHolderAndHandlesAreIdempotent() {
        BlockPool pool = BlockPool.create("test", 2, PAGE, BlockPool.Duplicates.REFUSE);
        TokenBlockSequence seq = sequence(1, 0);
        List<ImmutableBlock> mine = store(pool, seq);
        List<ImmutableBlock> yours = pool.match(seq.sequenceHashes());
        release(mine);
        release(mine); // idempotent
        assertThat(pool.stats().active()).isEqualTo(1);
        assertThat(pool.stats().inactive()).isZero();
        release(yours);
        assertThat(pool.stats().inactive()).isEqualTo(1);
        assertThatThrownBy(() -> mine.getFirst().priority(3)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("was released");
        assertThat(mine.getFirst().sequenceHash()).as("a closed handle still names its block")
                .isEqualTo(seq.sequenceHash(0));
        assertThatThrownBy(() -> mine.getFirst().parentHash()).as("what the block holds is read while held")
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("was released");
    }

    @Test
    void aMatchLongerThanItsFirstGuessReturnsEveryBlockInOrder() {
        BlockPool pool = BlockPool.create("long", 700, PAGE, BlockPool.Duplicates.REFUSE);
        TokenBlockSequence seq = sequence(700, 0);
        List<ImmutableBlock> stored = store(pool, seq);
        List<Integer> ids = stored.stream().map(ImmutableBlock::blockId).toList();
        release(stored);
        long[] asked = java.util.Arrays.copyOf(seq.sequenceHashes(), 701); // one more hash, not registered
        asked[700] = 42;
        List<ImmutableBlock> hit = pool.match(asked);
        assertThat(hit).extracting(ImmutableBlock::blockId).containsExactlyElementsOf(ids);
        assertThat(pool.stats().active()).isEqualTo(700);
        pool.release(hit);
        assertThat(pool.match(new long[] {42, seq.sequenceHash(0)})).as("a miss first matches nothing").isEmpty();
    }

    /**
     * Every block keeps its own tokens: pages share storage chunks of about 64 K tokens (1024 blocks of 64 here, so
     * 2100 blocks span two full chunks and a partial third), and a page larger than a chunk gets a chunk of its own.
     */
    @Test
    void everyBlockKeepsItsOwnTokensAcrossStorageChunks() {
        for (int[] shape : new int[][] {{2100, 64}, {3, 70_000}}) {
            int blocks = shape[0];
            int page = shape[1];
            BlockPool pool = BlockPool.create("chunks", blocks, page, BlockPool.Duplicates.REFUSE);
            TokenBlockSequence seq = TokenBlockSequence.of(IntStream.range(0, blocks * page).map(t -> t * 31 + 5)
                    .toArray(), page, SALT);
            List<MutableBlock> mine = pool.allocate(blocks);
            for (int i = 0; i < blocks; i++) {
                if (i % 2 == 0) { // half of them get a few tokens first, appended where the page starts
                    mine.get(i).appendTokens(java.util.Arrays.copyOf(seq.blockTokens(i), 3));
                }
                mine.get(i).complete(seq, i);
            }
            List<ImmutableBlock> held = pool.register(mine);
            for (int i = 0; i < blocks; i++) {
                assertThat(held.get(i).blockId()).isEqualTo(mine.get(i).blockId());
                assertThat(held.get(i).meta().tokens()).as("block %d of %d (page %d)", i, blocks, page)
                        .isEqualTo(seq.blockTokens(i));
            }
            release(held);
        }
    }

    @Test
    void aListWithOneBadBlockRegistersNoneAndLeaksNothing() {
        BlockPool pool = BlockPool.create("test", 4, PAGE, BlockPool.Duplicates.REFUSE);
        TokenBlockSequence seq = sequence(3, 0);
        List<MutableBlock> blocks = pool.allocate(3);
        blocks.get(0).complete(seq, 0);
        blocks.get(2).complete(seq, 2); // block 1 is left empty
        assertThatThrownBy(() -> pool.register(blocks)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("holds 0 of 4 tokens");
        assertThat(pool.isRegistered(seq.sequenceHash(0))).as("nothing registered").isFalse();
        MutableBlock twice = blocks.get(0);
        assertThatThrownBy(() -> pool.register(List.of(twice, twice))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("twice");
        blocks.forEach(MutableBlock::close);
        assertThat(pool.stats().free()).as("every block came back").isEqualTo(4);
        assertThat(pool.stats().active()).isZero();
    }

    @Test
    void aClosedPoolKeepsServingBlocksWithoutEvents() {
        BlockPool pool = BlockPool.create("test", 2, PAGE, BlockPool.Duplicates.REFUSE);
        pool.close();
        release(store(pool, sequence(1, 0)));
        release(store(pool, sequence(1, 100)));
        release(store(pool, sequence(1, 200))); // evicts, which would publish a removal
        assertThat(pool.stats().inactive()).isEqualTo(2);
        assertThatThrownBy(() -> pool.touch(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("sequenceHashes");
    }

    @Test
    void onlyACompleteBlockRegistersAndItsTokensMustMatch() {
        BlockPool pool = BlockPool.create("test", 2, PAGE, BlockPool.Duplicates.REFUSE);
        TokenBlockSequence seq = sequence(1, 0);
        MutableBlock block = pool.allocate(1).getFirst();
        assertThat(block.state()).isEqualTo(BlockPool.State.RESET);
        block.appendTokens(0, 1);
        assertThat(block.state()).isEqualTo(BlockPool.State.PARTIAL);
        assertThatThrownBy(() -> pool.register(block)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("holds 2 of 4 tokens");
        assertThatThrownBy(() -> block.appendTokens(1, 2, 3)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("exceed its page of 4");
        MutableBlock other = pool.allocate(1).getFirst().appendTokens(7);
        assertThatThrownBy(() -> other.complete(seq, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not the start of the sequence's block 0");
        block.complete(seq, 0);
        assertThat(block.state()).isEqualTo(BlockPool.State.COMPLETE);
        ImmutableBlock registered = pool.register(block);
        assertThat(registered.sequenceHash()).isEqualTo(seq.sequenceHash(0));
        assertThat(registered.parentHash()).isEmpty();
        assertThatThrownBy(() -> pool.register(block)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("released or registered already");
        other.close();
        registered.close();
        List<ImmutableBlock> all = new ArrayList<>(pool.match(seq.sequenceHashes()));
        assertThat(all).hasSize(1);
        release(all);
    }
}
