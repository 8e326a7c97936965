package dev.kvbm.manager;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/** Store and remove events: batched per operation, in order per block, and never a brake on the pool. */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class BlockEventsTest {
    private static final int PAGE = 4;

    private static final class Collector implements Flow.Subscriber<List<BlockEvent>> {
        final List<List<BlockEvent>> batches = new CopyOnWriteArrayList<>();
        final long demand;
        Flow.Subscription subscription;

        Collector(long demand) {
            this.demand = demand;
        }

        @Override
        public void onSubscribe(Flow.Subscription s) {
            subscription = s;
            if (demand > 0) {
                s.request(demand);
            }
        }

        @Override
        public void onNext(List<BlockEvent> batch) {
            batches.add(batch);
        }

        @Override
        public void onError(Throwable t) {
        }

        @Override
        public void onComplete() {
        }
    }

    private static void awaitBatches(Collector c, int n) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (c.batches.size() < n && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
    }

    @Test
    void aRegistrationIsOneBatchOfStoresAndEvictionsAreRemovesLeavesFirst() throws Exception {
        BlockPool pool = BlockPool.create("G2", 3, PAGE, BlockPool.Duplicates.REFUSE);
        Collector c = new Collector(Long.MAX_VALUE);
        pool.events().subscribe(c);
        TokenBlockSequence seq = TokenBlockSequence.of(IntStream.range(0, 3 * PAGE).toArray(), PAGE, 5);
        List<MutableBlock> blocks = pool.allocate(3);
        for (int i = 0; i < 3; i++) {
            blocks.get(i).complete(seq, i);
        }
        List<ImmutableBlock> stored = pool.register(blocks);
        long[] h = seq.sequenceHashes();
        long[] b = seq.blockHashes();
        awaitBatches(c, 1);
        assertThat(c.batches.getFirst()).containsExactly(
                new BlockEvent.Stored("G2", h[0], b[0], OptionalLong.empty(), PAGE),
                new BlockEvent.Stored("G2", h[1], b[1], OptionalLong.of(h[0]), PAGE),
                new BlockEvent.Stored("G2", h[2], b[2], OptionalLong.of(h[1]), PAGE));
        stored.forEach(ImmutableBlock::close);
        pool.allocate(3).forEach(MutableBlock::close);
        awaitBatches(c, 2);
        assertThat(c.batches).hasSize(2);
        assertThat(c.batches.get(1)).containsExactly(new BlockEvent.Removed("G2", h[2]),
                new BlockEvent.Removed("G2", h[1]), new BlockEvent.Removed("G2", h[0]));
        pool.events().close();
    }

    @Test
    void aSubscriberThatNeverReadsNeverBlocksThePoolAndWhatItMissedIsCounted() throws Exception {
        BlockPool pool = BlockPool.create("G1", 4, PAGE, BlockPool.Duplicates.REFUSE);
        Collector stalled = new Collector(0);
        pool.events().subscribe(stalled);
        for (int i = 0; i < 3000; i++) {
            TokenBlockSequence seq = TokenBlockSequence.of(new int[] {i, i, i, i}, PAGE, 5);
            MutableBlock b = pool.allocate(1).getFirst().complete(seq, 0);
            pool.register(b).close();
        }
        assertThat(stalled.batches).isEmpty();
        assertThat(pool.events().droppedEvents()).as("events a full buffer could not take").isPositive();
        pool.events().close();
    }
}
