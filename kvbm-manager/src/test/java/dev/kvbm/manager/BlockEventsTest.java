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

    private static class Collector implements Flow.Subscriber<BlockEvents.Batch> {
        final List<List<BlockEvent>> batches = new CopyOnWriteArrayList<>();
        final List<Long> sequences = new CopyOnWriteArrayList<>();
        final List<String> threads = new CopyOnWriteArrayList<>();
        final List<Throwable> errors = new CopyOnWriteArrayList<>();
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
        public void onNext(BlockEvents.Batch batch) {
            threads.add(Thread.currentThread().getName());
            sequences.add(batch.sequence());
            batches.add(batch.events());
        }

        @Override
        public void onError(Throwable t) {
            errors.add(t);
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

    /** A collector that is told of its drops, on the thread it records. */
    private static final class DropAwareCollector extends Collector implements BlockEvents.DropAware {
        final List<Long> drops = new CopyOnWriteArrayList<>();

        DropAwareCollector(long demand) {
            super(demand);
        }

        @Override
        public void onDropped(long lastDropped) {
            threads.add(Thread.currentThread().getName());
            drops.add(lastDropped);
        }
    }

    private int registered;

    private void registerOneBlockEach(BlockPool pool, int requests) {
        for (int n = 0; n < requests; n++) {
            int i = registered++;
            TokenBlockSequence seq = TokenBlockSequence.of(new int[] {i, i, i, i}, PAGE, 5);
            MutableBlock b = pool.allocate(1).getFirst().complete(seq, 0);
            pool.register(b).close();
        }
    }

    @Test
    void batchesAreNumberedAndADropAwareSubscriberLearnsOfDropsAfterItsLastBatch() throws Exception {
        BlockPool pool = BlockPool.create("G1", 4, PAGE, BlockPool.Duplicates.REFUSE);
        Collector everything = new Collector(Long.MAX_VALUE);
        DropAwareCollector late = new DropAwareCollector(0); // asks for nothing until the pool has gone far ahead
        pool.events().subscribe(everything);
        pool.events().subscribe(late);
        for (int round = 0; round < 15; round++) { // 400 batches a round, while 'everything' buffers 1024
            registerOneBlockEach(pool, 200);
            awaitBatches(everything, (int) pool.events().lastSequence());
        }
        long last = pool.events().lastSequence();
        assertThat(last).as("a batch per registration, one per eviction").isGreaterThan(3000);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while ((late.drops.isEmpty() || late.drops.getLast() != last) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(late.drops).as("told of its drops, the last of them the pool's last batch").isNotEmpty()
                .last().isEqualTo(last);
        assertThat(late.batches).isEmpty();
        awaitBatches(everything, (int) last);
        assertThat(everything.sequences).as("a subscriber that keeps up gets every number in order")
                .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, last).boxed().toList());

        late.subscription.request(Long.MAX_VALUE); // now it reads what its buffer kept: the oldest batches
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while ((late.sequences.isEmpty() || pool.events().lag() > 0) && System.nanoTime() < deadline) {
            Thread.sleep(5); // until every buffered batch was taken
        }
        Thread.sleep(100); // and the last one taken has been recorded
        List<Long> kept = List.copyOf(late.sequences);
        assertThat(kept).as("the buffer kept the first batches, numbered from 1 without a hole")
                .isNotEmpty().hasSizeLessThan((int) last)
                .containsExactlyElementsOf(java.util.stream.LongStream.rangeClosed(1, kept.size()).boxed().toList());
        long droppedForLate = pool.events().droppedEvents();
        assertThat(droppedForLate).as("every event of a dropped batch is counted").isEqualTo(
                everything.batches.subList(kept.size(), (int) last).stream().mapToLong(List::size).sum());
        assertThat(late.threads).as("drop notices and batches on one delivery thread").containsOnly(
                everything.threads.getFirst());
        pool.events().close();
    }

    @Test
    void aDropAwareSubscriberSubscribedTwiceIsRefusedLikeAnyOther() throws Exception {
        BlockPool pool = BlockPool.create("G1", 4, PAGE, BlockPool.Duplicates.REFUSE);
        DropAwareCollector twice = new DropAwareCollector(Long.MAX_VALUE);
        pool.events().subscribe(twice);
        pool.events().subscribe(twice);
        registerOneBlockEach(pool, 3);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (twice.errors.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertThat(twice.errors).singleElement().isInstanceOf(IllegalStateException.class);
        assertThat(pool.events().subscribers()).as("not subscribed a second time").isLessThanOrEqualTo(1);
        assertThat(twice.sequences).as("no batch delivered twice").doesNotHaveDuplicates();
        pool.events().close();
    }

    @Test
    void aBatchNeedsANumberAndEvents() {
        BlockEvent stored = new BlockEvent.Removed("G1", 7);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new BlockEvents.Batch(0, List.of(stored)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("got 0 and 1");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new BlockEvents.Batch(1, List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one event");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new BlockEvents.Batch(1, null))
                .isInstanceOf(NullPointerException.class).hasMessage("events");
        assertThat(new BlockEvents.Batch(3, List.of(stored)).events()).containsExactly(stored);
    }

    @Test
    void aSubscriberThatNeverReadsNeverBlocksThePoolAndWhatItMissedIsCounted() throws Exception {
        BlockPool pool = BlockPool.create("G1", 4, PAGE, BlockPool.Duplicates.REFUSE);
        Collector stalled = new Collector(0);
        pool.events().subscribe(stalled);
        registerOneBlockEach(pool, 3000);
        assertThat(stalled.batches).isEmpty();
        assertThat(pool.events().droppedEvents()).as("events a full buffer could not take").isPositive();
        pool.events().close();
    }
}
