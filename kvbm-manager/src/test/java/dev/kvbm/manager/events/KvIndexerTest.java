package dev.kvbm.manager.events;

import dev.kvbm.manager.BlockEvents;
import dev.kvbm.manager.BlockPool;
import dev.kvbm.manager.TokenBlockSequence;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The index over the in-process bus against the ground truth of the workers' own pools. */
@org.junit.jupiter.api.Timeout(value = 3, unit = java.util.concurrent.TimeUnit.MINUTES)
class KvIndexerTest {

    /**
     * A sink that loses every {@code every}-th event before the bus while {@code losing} (a test double for a lossy
     * transport).
     */
    private record Lossy(KvEventBus bus, int every, AtomicLong count, java.util.concurrent.atomic.AtomicBoolean losing)
            implements KvEventSink {
        @Override
        public void publish(KvEvent event) {
            if (every > 0 && losing.get() && count.incrementAndGet() % every == 0) {
                return;
            }
            bus.publish(event);
        }

        @Override
        public AutoCloseable serveSnapshots(KvEventPublisher publisher) {
            return bus.serveSnapshots(publisher);
        }
    }

    @Test
    void theIndexEqualsTheWorkersPoolsAfterAWorkloadWithEvictionsAndARestart() throws Exception {
        assertIndexMatchesPools(0);
    }

    @Test
    void lostEventsAreSeenAsGapsAndHealedBySnapshots() throws Exception {
        KvIndexer indexer = assertIndexMatchesPools(37);
        assertThat(indexer.gaps()).isPositive();
        assertThat(indexer.snapshotsApplied()).isPositive();
    }

    /** A subscriber of the pool that never asks for anything: every batch past its buffer is dropped for it. */
    private static final class Stalled implements Flow.Subscriber<BlockEvents.Batch> {
        @Override
        public void onSubscribe(Flow.Subscription s) {
        }

        @Override
        public void onNext(BlockEvents.Batch batch) {
        }

        @Override
        public void onError(Throwable t) {
        }

        @Override
        public void onComplete() {
        }
    }

    @Test
    void aStalledSubscriberBesideThePublisherCostsTheIndexNoResync() throws Exception {
        try (KvEventBus bus = new KvEventBus(); KvIndexer indexer = new KvIndexer(bus, Duration.ofMillis(500))) {
            bus.subscribe(indexer);
            BlockPool pool = BlockPool.create("G1-neighbour", 64, Workload.PAGE, BlockPool.Duplicates.REFUSE);
            pool.events().subscribe(new Stalled());
            KvEventPublisher publisher = new KvEventPublisher(6, pool, bus);
            Workload load = new Workload(6);
            for (int i = 0; i < 3000; i++) {
                load.step(pool);
                if (i % 100 == 0) { // the publisher keeps up (its own drops would be gaps, rightly)
                    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                    while (publisher.batchesBehind() > 0 && System.nanoTime() < deadline) {
                        Thread.sleep(1);
                    }
                }
            }
            awaitSettled(indexer, Map.of(6L, pool), Map.of(6L, publisher), false);
            assertThat(pool.events().droppedEvents()).as("events dropped for the stalled subscriber").isPositive();
            assertThat(publisher.failedEvents()).as("ids the publisher skipped").isZero();
            assertThat(indexer.gaps()).isZero();
            assertIndexMatches(indexer, 6, pool);
            publisher.close();
            pool.close();
        }
    }

    @Test
    void batchesDroppedForAPublisherThatFellBehindAreGapsTheIndexHeals() throws Exception {
        try (KvEventBus bus = new KvEventBus(); KvIndexer indexer = new KvIndexer(bus, Duration.ofMillis(500))) {
            bus.subscribe(indexer);
            java.util.concurrent.CountDownLatch open = new java.util.concurrent.CountDownLatch(1);
            KvEventSink stuck = new KvEventSink() { // a transport that hangs until the test opens it
                @Override
                public void publish(KvEvent event) {
                    if (!(event.data() instanceof KvEvent.Cleared)) {
                        try {
                            open.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    bus.publish(event);
                }

                @Override
                public AutoCloseable serveSnapshots(KvEventPublisher publisher) {
                    return bus.serveSnapshots(publisher);
                }
            };
            BlockPool pool = BlockPool.create("G1-behind", 64, Workload.PAGE, BlockPool.Duplicates.REFUSE);
            KvEventPublisher publisher = new KvEventPublisher(7, pool, stuck);
            Workload load = new Workload(7);
            for (int i = 0; i < 3000; i++) {
                load.step(pool);
            }
            assertThat(pool.events().droppedEvents()).as("events dropped for the hung publisher").isPositive();
            assertThat(publisher.batchesBehind()).as("batches the hung publisher has not handled")
                    .isGreaterThan(1024);
            open.countDown();
            // The last batches were dropped: the publisher is told, skips an id for them and shows the skip at once
            // with an event that changes nothing, so the index resyncs while the worker stays idle.
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (publisher.droppedBatchRuns() == 0 || publisher.batchesBehind() > 0) {
                assertThat(System.nanoTime()).as("the drop is told to the publisher").isLessThan(deadline);
                Thread.sleep(10);
            }
            long sequenceAfterDrain = pool.events().lastSequence();
            assertThat(publisher.droppedBatchRuns()).isEqualTo(publisher.failedEvents());
            awaitSettled(indexer, Map.of(7L, pool), Map.of(7L, publisher));
            assertThat(pool.events().lastSequence()).as("the pool stayed idle").isEqualTo(sequenceAfterDrain);
            assertThat(indexer.gaps()).isPositive();
            assertThat(indexer.snapshotsApplied()).isPositive();
            assertIndexMatches(indexer, 7, pool);
            publisher.close();
            pool.close();
        }
    }

    private static void assertIndexMatches(KvIndexer indexer, long worker, BlockPool pool) {
        Random r = new Random(3);
        int[][] prefixes = Workload.prefixes(new Random(99));
        int hits = 0;
        for (int i = 0; i < 300; i++) {
            long[] hashes = TokenBlockSequence.of(Workload.prompt(r, prefixes), Workload.PAGE, Workload.SALT)
                    .sequenceHashes();
            int n = pool.registeredPrefixLength(hashes);
            hits += n > 0 ? 1 : 0;
            assertThat(indexer.match(hashes)).as("prompt %d", i).isEqualTo(n == 0 ? Map.of() : Map.of(worker, n));
        }
        assertThat(hits).as("prompts the worker holds a prefix of").isPositive();
    }

    @Test
    void lateEventsOfAWorkersPreviousRunAreIgnored() {
        java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
        try (KvIndexer indexer = new KvIndexer(w -> {
            asked.incrementAndGet();
            return new java.util.concurrent.CompletableFuture<>();
        }, Duration.ofSeconds(60))) {
            KvEvent.Stored one = new KvEvent.Stored(java.util.OptionalLong.empty(), java.util.List.of(new KvEvent.StoredBlock(11, 1)));
            KvEvent.Stored two = new KvEvent.Stored(java.util.OptionalLong.empty(), java.util.List.of(new KvEvent.StoredBlock(22, 2)));
            KvEvent.Stored three = new KvEvent.Stored(java.util.OptionalLong.empty(), java.util.List.of(new KvEvent.StoredBlock(33, 3)));
            indexer.accept(new KvEvent(5, 100, 1, new KvEvent.Cleared()));
            indexer.accept(new KvEvent(5, 100, 2, one));
            indexer.accept(new KvEvent(5, 200, 1, new KvEvent.Cleared())); // the worker restarted
            indexer.accept(new KvEvent(5, 100, 3, two)); // a late event of the first run: not applied
            indexer.accept(new KvEvent(5, 200, 2, three));
            assertThat(indexer.match(new long[] {11})).isEmpty();
            assertThat(indexer.match(new long[] {22})).isEmpty();
            assertThat(indexer.match(new long[] {33})).isEqualTo(Map.of(5L, 1));
            assertThat(indexer.gaps()).isZero();
            // ... but it asks the worker which run is current (the restart might have been forged), once.
            assertThat(indexer.disputes()).isOne();
            assertThat(asked.get()).isOne();
            indexer.accept(new KvEvent(5, 100, 4, two));
            assertThat(indexer.disputes()).as("at most once a retry period").isOne();
            // A third run whose Cleared was lost: the index keeps the current run until the worker's snapshot says.
            indexer.accept(new KvEvent(5, 300, 7, one));
            assertThat(indexer.workers()).containsEntry(5L, false);
            assertThat(indexer.match(new long[] {33})).isEqualTo(Map.of(5L, 1));
            assertThat(indexer.match(new long[] {11})).isEmpty();
        }
    }

    @Test
    void aForgedEventWithAHugeIdCostsOneResyncNotAnEndlessOne() throws Exception {
        try (KvEventBus bus = new KvEventBus()) {
            java.util.concurrent.atomic.AtomicInteger asked = new java.util.concurrent.atomic.AtomicInteger();
            KvIndexer indexer = new KvIndexer(w -> {
                asked.incrementAndGet();
                return bus.snapshot(w);
            }, Duration.ofMillis(200));
            bus.subscribe(indexer);
            BlockPool pool = BlockPool.create("G1-forged", 16, Workload.PAGE, BlockPool.Duplicates.REFUSE);
            KvEventPublisher publisher = new KvEventPublisher(4, pool, bus);
            Workload load = new Workload(8);
            stepAndSettle(indexer, 4, pool, publisher, load, 10);
            // Someone else on the subject claims to be worker 4, far ahead of it.
            indexer.accept(new KvEvent(4, publisher.snapshot().instance(), Long.MAX_VALUE,
                    new KvEvent.Removed(new long[] {42})));
            Thread.sleep(1500); // an endless resync would ask every 200 ms
            assertThat(asked.get()).as("snapshots asked").isLessThanOrEqualTo(2);
            assertThat(indexer.workers()).containsEntry(4L, false);
            stepAndSettle(indexer, 4, pool, publisher, load, 10);
            assertIndexMatches(indexer, 4, pool);
            publisher.close();
            indexer.close();
        }
    }

    @Test
    void anEventOfARunNeverSeenOrAForgedRestartDoesNotEmptyALiveWorkerForGood() throws Exception {
        try (KvEventBus bus = new KvEventBus(); KvIndexer indexer = new KvIndexer(bus, Duration.ofMillis(200))) {
            bus.subscribe(indexer);
            BlockPool pool = BlockPool.create("G1-live", 64, Workload.PAGE, BlockPool.Duplicates.REFUSE);
            KvEventPublisher publisher = new KvEventPublisher(6, pool, bus);
            Workload load = new Workload(6);
            stepAndSettle(indexer, 6, pool, publisher, load, 20);
            long real = publisher.snapshot().instance();
            // An event of a run the index never saw (forged, or a late one of a run between two restarts) ...
            indexer.accept(new KvEvent(6, real + 1, 9, new KvEvent.Removed(new long[] {1})));
            // ... and a forged restart, which empties the worker's entry until its real run speaks again.
            indexer.accept(new KvEvent(6, real + 2, 1, new KvEvent.Cleared()));
            for (int round = 0; round < 3; round++) {
                stepAndSettle(indexer, 6, pool, publisher, load, 10);
                assertIndexMatches(indexer, 6, pool);
            }
            assertThat(indexer.disputes()).as("the real run's events asked which run is current").isPositive();
            publisher.close();
            pool.close();
        }
    }

    @Test
    void eventsHeldForAWorkerWhoseSnapshotNeverComesAreBoundedInBytes() {
        try (KvIndexer indexer = new KvIndexer(w -> new java.util.concurrent.CompletableFuture<>(),
                Duration.ofSeconds(60))) {
            java.util.List<KvEvent.StoredBlock> blocks = new ArrayList<>();
            for (int i = 0; i < 20_000; i++) {
                blocks.add(new KvEvent.StoredBlock(i, i));
            }
            KvEvent.Stored big = new KvEvent.Stored(java.util.OptionalLong.empty(), java.util.List.copyOf(blocks));
            long most = 0;
            for (long id = 2; id < 602; id++) { // worker 8 seen mid-stream: stale, waiting for a snapshot
                indexer.accept(new KvEvent(8, 77, id, big));
                most = Math.max(most, indexer.heldBackBytes());
            }
            assertThat(most).as("bytes held back for one worker").isLessThanOrEqualTo(KvIndexer.MAX_PENDING_BYTES);
            assertThat(KvIndexer.heldBytes(new KvEvent(8, 77, 2, big))).as("the estimate of one such event")
                    .isGreaterThan(20_000L * 32);
            for (long worker = 100; worker < 130; worker++) { // many workers: the total is bounded too
                for (long id = 2; id < 100; id++) {
                    indexer.accept(new KvEvent(worker, 77, id, big));
                }
                assertThat(indexer.heldBackBytes()).isLessThanOrEqualTo(KvIndexer.MAX_PENDING_BYTES_TOTAL);
            }
            indexer.forget(8);
            for (long worker = 100; worker < 130; worker++) {
                indexer.forget(worker);
            }
            assertThat(indexer.heldBackBytes()).as("forgotten workers hold nothing").isZero();
        }
    }

    @Test
    void resyncLearnsAnIdleWorkerFromItsSnapshot() throws Exception {
        try (KvEventBus bus = new KvEventBus(); KvIndexer indexer = new KvIndexer(bus, Duration.ofMillis(500))) {
            BlockPool pool = BlockPool.create("G1-idle", 16, Workload.PAGE, BlockPool.Duplicates.REFUSE);
            KvEventPublisher publisher = new KvEventPublisher(9, pool, bus);
            Workload load = new Workload(3);
            for (int i = 0; i < 20; i++) {
                load.step(pool);
            }
            Thread.sleep(200); // everything published before the indexer subscribes: it saw none of it
            bus.subscribe(indexer);
            indexer.resync(9);
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (indexer.workers().getOrDefault(9L, true) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(indexer.workers()).containsEntry(9L, false);
            assertIndexMatches(indexer, 9, pool);
            publisher.close();
        }
    }

    /** A sink that keeps what it is given (a test double for a transport). */
    private record Capture(List<KvEvent> events) implements KvEventSink {
        @Override
        public void publish(KvEvent event) {
            events.add(event);
        }

        @Override
        public AutoCloseable serveSnapshots(KvEventPublisher publisher) {
            return () -> { };
        }
    }

    @Test
    void anIdlePublisherSendsAnEventThatChangesNothingEveryHeartbeatAndNoneWithoutOne() throws Exception {
        List<KvEvent> beating = new java.util.concurrent.CopyOnWriteArrayList<>();
        List<KvEvent> silent = new java.util.concurrent.CopyOnWriteArrayList<>();
        BlockPool pool = BlockPool.create("G1-beating", 16, Workload.PAGE, BlockPool.Duplicates.REFUSE);
        BlockPool quiet = BlockPool.create("G1-silent", 16, Workload.PAGE, BlockPool.Duplicates.REFUSE);
        try (KvEventPublisher p = new KvEventPublisher(11, pool, new Capture(beating), Duration.ofMillis(20));
             KvEventPublisher q = new KvEventPublisher(12, quiet, new Capture(silent), Duration.ZERO)) {
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (beating.size() < 4) {
                assertThat(System.nanoTime()).as("three heartbeats of an idle publisher").isLessThan(deadline);
                Thread.sleep(10);
            }
            assertThat(beating.getFirst().data()).isInstanceOf(KvEvent.Cleared.class);
            for (int i = 1; i < 4; i++) {
                assertThat(beating.get(i).eventId()).isEqualTo(i + 1);
                assertThat(beating.get(i).data()).isEqualTo(new KvEvent.Removed(new long[0]));
            }
            assertThat(silent).as("a publisher without heartbeat, idle as long").hasSize(1);
            assertThat(q.lastEventId()).isEqualTo(1);
        }
        for (Duration bad : List.of(Duration.ofMillis(-1), Duration.ofNanos(999_999))) {
            assertThatThrownBy(() -> new KvEventPublisher(13, pool, new Capture(new ArrayList<>()), bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("zero (none) or at least 1 ms").hasMessageContaining(bad.toString());
        }
        List<KvEvent> never = new java.util.concurrent.CopyOnWriteArrayList<>();
        try (KvEventPublisher centuries = new KvEventPublisher(14, pool, new Capture(never),
                Duration.ofDays(365L * 1000_000))) { // past what nanoseconds can count: taken as never
            assertThat(never).hasSize(1);
        }
    }

    @Test
    void aLostLastEventIsLearnedWhileTheWorkerStaysIdle() throws Exception {
        try (KvEventBus bus = new KvEventBus(); KvIndexer indexer = new KvIndexer(bus, Duration.ofMillis(500))) {
            bus.subscribe(indexer);
            java.util.concurrent.atomic.AtomicBoolean losing = new java.util.concurrent.atomic.AtomicBoolean();
            BlockPool pool = BlockPool.create("G1-lossy", 64, Workload.PAGE, BlockPool.Duplicates.REFUSE);
            KvEventPublisher publisher = new KvEventPublisher(5, pool, new Lossy(bus, 1, new AtomicLong(), losing),
                    Duration.ofMillis(100));
            Workload load = new Workload(5);
            for (int i = 0; i < 50; i++) {
                load.step(pool);
            }
            awaitSettled(indexer, Map.of(5L, pool), Map.of(5L, publisher));
            losing.set(true); // the transport loses what comes now: the worker's last change
            long before = pool.events().lastSequence();
            while (pool.events().lastSequence() == before) {
                load.step(pool);
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (publisher.batchesBehind() > 0) {
                assertThat(System.nanoTime()).as("the publisher caught up").isLessThan(deadline);
                Thread.sleep(5);
            }
            losing.set(false);
            long sequence = pool.events().lastSequence();
            awaitSettled(indexer, Map.of(5L, pool), Map.of(5L, publisher));
            assertThat(pool.events().lastSequence()).as("the pool stayed idle").isEqualTo(sequence);
            assertThat(indexer.gaps()).isPositive();
            assertIndexMatches(indexer, 5, pool);
            publisher.close();
            pool.close();
        }
    }

    @Test
    void aWorkerSilentForForgetAfterIsForgottenWhileOneWithAHeartbeatIsKept() throws Exception {
        try (KvEventBus bus = new KvEventBus();
             KvIndexer indexer = new KvIndexer(bus, Duration.ofMillis(500), Duration.ofSeconds(2))) {
            bus.subscribe(indexer);
            BlockPool beating = BlockPool.create("G1-alive", 64, Workload.PAGE, BlockPool.Duplicates.REFUSE);
            BlockPool silent = BlockPool.create("G1-gone", 64, Workload.PAGE, BlockPool.Duplicates.REFUSE);
            KvEventPublisher alive = new KvEventPublisher(21, beating, bus, Duration.ofMillis(100));
            KvEventPublisher gone = new KvEventPublisher(22, silent, bus, Duration.ZERO); // as a dead worker would be
            Workload a = new Workload(21);
            Workload b = new Workload(22);
            for (int i = 0; i < 30; i++) {
                a.step(beating);
                b.step(silent);
            }
            awaitSettled(indexer, Map.of(21L, beating, 22L, silent), Map.of(21L, alive, 22L, gone));
            long[] held = silent.registeredBlocks(() -> { }).stream().mapToLong(BlockPool.RegisteredBlock::sequenceHash)
                    .limit(1).toArray();
            assertThat(held).isNotEmpty();
            assertThat(indexer.match(held)).containsKey(22L);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (indexer.workers().containsKey(22L)) {
                assertThat(System.nanoTime()).as("the silent worker is forgotten").isLessThan(deadline);
                Thread.sleep(20);
            }
            assertThat(indexer.forgottenWorkers()).isEqualTo(1);
            assertThat(indexer.workers()).containsEntry(21L, false);
            assertIndexMatches(indexer, 21, beating);
            assertThat(indexer.match(held)).as("a forgotten worker's blocks are not offered").doesNotContainKey(22L);
            // It speaks again: it is back, resynchronised like a new worker.
            long before = silent.events().lastSequence();
            while (silent.events().lastSequence() == before) {
                b.step(silent);
            }
            deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (!Boolean.FALSE.equals(indexer.workers().get(22L))) {
                assertThat(System.nanoTime()).as("the worker that spoke again is known again").isLessThan(deadline);
                Thread.sleep(10);
            }
            alive.close();
            gone.close();
        }
        for (Duration bad : List.of(Duration.ofSeconds(-1), Duration.ofNanos(10))) {
            assertThatThrownBy(() -> new KvIndexer(w -> null, Duration.ofSeconds(1), bad))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("forgetAfter must be zero (never) or at least 1 ms, got " + bad);
        }
        new KvIndexer(w -> null, Duration.ofSeconds(1), Duration.ofDays(365L * 1000_000)).close(); // never
    }

    @Test
    void aManagerBuiltWithTheInProcessSinkPublishesOnTheSharedBus() throws Exception {
        try (KvIndexer indexer = new KvIndexer(KvEventBus.shared(), Duration.ofMillis(500));
             dev.kvbm.manager.KvBlockManager kvbm = dev.kvbm.manager.KvBlockManager.builder()
                     .model(new dev.kvbm.manager.ModelShape(2, 2, 4, 8, 2)).withoutAgent().workerId(77)
                     .tier(dev.kvbm.manager.Tier.G1, dev.kvbm.manager.TierSpec.blocks(8))
                     .events("in-process", Map.of()).build()) {
            KvEventBus.shared().subscribe(indexer);
            TokenBlockSequence seq = TokenBlockSequence.of(new int[] {9, 8, 7, 6, 5, 4, 3, 2}, 4, 0);
            var blocks = kvbm.allocate(2);
            blocks.get(0).complete(seq, 0);
            blocks.get(1).complete(seq, 1);
            var held = kvbm.register(blocks);
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (!indexer.match(seq.sequenceHashes()).equals(Map.of(77L, 2)) && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            // Subscribed after the manager's Cleared: the indexer resynchronised from a snapshot.
            assertThat(indexer.match(seq.sequenceHashes())).isEqualTo(Map.of(77L, 2));
            dev.kvbm.manager.KvBlockManager.release(held);
        }
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> KvEventSinkProvider.named("nats"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("kvbm-events-nats");
    }

    /**
     * Waits until every pool's events were converted and published (nothing left in its stream), the index applied
     * the last of them, no worker is stale, and that stays so for 100 ms.
     */
    /** Moves one worker's pool {@code steps} times, then waits until the index caught up with it. */
    private static void stepAndSettle(KvIndexer indexer, long worker, BlockPool pool, KvEventPublisher publisher,
                                      Workload load, int steps) throws InterruptedException {
        for (int i = 0; i < steps; i++) {
            load.step(pool);
        }
        awaitSettled(indexer, Map.of(worker, pool), Map.of(worker, publisher));
    }

    static void awaitSettled(KvIndexer indexer, Map<Long, BlockPool> pools, Map<Long, KvEventPublisher> publishers)
            throws InterruptedException {
        awaitSettled(indexer, pools, publishers, true);
    }

    /** {@link #awaitSettled}, optionally without waiting for the pools' other subscribers to catch up. */
    static void awaitSettled(KvIndexer indexer, Map<Long, BlockPool> pools, Map<Long, KvEventPublisher> publishers,
                             boolean everySubscriber) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        int quietChecks = 0;
        while (System.nanoTime() < deadline && quietChecks < 5) {
            boolean settled = true;
            for (long w : pools.keySet()) {
                settled &= (!everySubscriber || pools.get(w).events().lag() == 0)
                        && indexer.lastEventId(w) == publishers.get(w).lastEventId()
                        && !indexer.workers().getOrDefault(w, true);
            }
            quietChecks = settled ? quietChecks + 1 : 0;
            Thread.sleep(20);
        }
        assertThat(quietChecks).as("the index caught up with every worker").isEqualTo(5);
    }

    private static KvIndexer assertIndexMatchesPools(int loseEvery) throws Exception {
        try (KvEventBus bus = new KvEventBus()) {
            KvIndexer indexer = new KvIndexer(bus, Duration.ofMillis(500));
            bus.subscribe(indexer);
            java.util.concurrent.atomic.AtomicBoolean losing = new java.util.concurrent.atomic.AtomicBoolean(true);
            KvEventSink sink = new Lossy(bus, loseEvery, new AtomicLong(), losing);
            Map<Long, BlockPool> pools = new LinkedHashMap<>();
            Map<Long, KvEventPublisher> publishers = new HashMap<>();
            Map<Long, Workload> loads = new HashMap<>();
            for (long w = 1; w <= 2; w++) {
                pools.put(w, BlockPool.create("G1-w" + w, 64, Workload.PAGE, BlockPool.Duplicates.REFUSE));
                publishers.put(w, new KvEventPublisher(w, pools.get(w), sink));
                loads.put(w, new Workload(w * 1000));
            }
            for (int step = 0; step < 3000; step++) {
                long w = 1 + step % 2;
                loads.get(w).step(pools.get(w));
                if (step == 1500) { // worker 2 restarts: a new pool, a new publisher, a Cleared
                    loads.get(2L).releaseAll();
                    publishers.get(2L).close();
                    pools.get(2L).close();
                    pools.put(2L, BlockPool.create("G1-w2b", 64, Workload.PAGE, BlockPool.Duplicates.REFUSE));
                    publishers.put(2L, new KvEventPublisher(2, pools.get(2L), sink));
                }
            }
            // The last event may have been lost: once the publishers caught up, one more step per worker, delivered,
            // exposes the gap at once (the heartbeat would too, within a second or two;
            // aLostLastEventIsLearnedWhileTheWorkerStaysIdle tests that on its own).
            losing.set(false);
            for (long w : pools.keySet()) {
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (publishers.get(w).batchesBehind() > 0 && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                long before = pools.get(w).events().lastSequence();
                // A prompt shorter than a page makes no event: step until one did.
                while (pools.get(w).events().lastSequence() == before) {
                    loads.get(w).step(pools.get(w));
                }
            }
            awaitSettled(indexer, pools, publishers);
            Random r = new Random(5);
            int[][] prefixes = Workload.prefixes(new Random(99));
            int nonEmpty = 0;
            for (int i = 0; i < 1000; i++) {
                long[] hashes = TokenBlockSequence.of(Workload.prompt(r, prefixes), Workload.PAGE, Workload.SALT)
                        .sequenceHashes();
                Map<Long, Integer> truth = new HashMap<>();
                pools.forEach((w, pool) -> {
                    int n = pool.registeredPrefixLength(hashes);
                    if (n > 0) {
                        truth.put(w, n);
                    }
                });
                nonEmpty += truth.isEmpty() ? 0 : 1;
                assertThat(indexer.match(hashes)).as("prompt %d", i).isEqualTo(truth);
            }
            assertThat(nonEmpty).as("prompts that hit at least one worker").isGreaterThan(100);
            assertThat(indexer.acceptJson("{\"worker_id\":1}".getBytes(StandardCharsets.UTF_8))).isFalse();
            assertThat(indexer.malformedEvents()).isEqualTo(1);
            publishers.values().forEach(KvEventPublisher::close);
            indexer.close();
            return indexer;
        }
    }
}
