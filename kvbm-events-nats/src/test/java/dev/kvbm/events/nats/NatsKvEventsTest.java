package dev.kvbm.events.nats;

import dev.kvbm.manager.BlockPool;
import dev.kvbm.manager.ImmutableBlock;
import dev.kvbm.manager.MutableBlock;
import dev.kvbm.manager.NotEnoughBlocksException;
import dev.kvbm.manager.TokenBlockSequence;
import dev.kvbm.manager.events.KvEventPublisher;
import dev.kvbm.manager.events.KvIndexer;
import io.nats.client.Connection;
import io.nats.client.Nats;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Two workers publish over a real nats-server while a seeded workload runs against their pools (evicting under
 * pressure, and restarting worker 2 halfway, which clears what it had); an indexer on its
 * own connection follows. Afterwards its answer for 1,000 prompts equals what the pools hold. Once with a restart
 * of the server in the middle (events lost meanwhile, healed by snapshots), once with malformed messages mixed in.
 */
class NatsKvEventsTest {
    private static final int PAGE = 4;
    private static final long SALT = 1337;

    @Test
    void theIndexFollowsTwoWorkersOverNats() throws Exception {
        run(false);
    }

    @Test
    void aServerRestartLosesEventsAndSnapshotsHealTheIndex() throws Exception {
        run(true);
    }

    private static void run(boolean restart) throws Exception {
        try (NatsServer nats = NatsServer.start()) {
            // The workers keep nothing while disconnected: what they publish then is lost, as a long outage loses it.
            NatsKvEvents.Settings workerSettings = new NatsKvEvents.Settings(nats.url(), "test", 0, Duration.ofSeconds(2));
            try (NatsKvEvents routerSide = NatsKvEvents.connect(NatsKvEvents.Settings.of(nats.url(), "test"));
                 NatsKvEvents w1 = NatsKvEvents.connect(workerSettings);
                 NatsKvEvents w2 = NatsKvEvents.connect(workerSettings);
                 KvIndexer indexer = new KvIndexer(routerSide, Duration.ofMillis(500))) {
                AutoCloseable feed = routerSide.feed(indexer);
                Map<Long, BlockPool> pools = new HashMap<>();
                Map<Long, KvEventPublisher> publishers = new HashMap<>();
                pools.put(1L, BlockPool.create("G1-a", 64, PAGE, BlockPool.Duplicates.REFUSE));
                pools.put(2L, BlockPool.create("G1-b", 64, PAGE, BlockPool.Duplicates.REFUSE));
                publishers.put(1L, new KvEventPublisher(1, pools.get(1L), w1));
                publishers.put(2L, new KvEventPublisher(2, pools.get(2L), w2));
                List<KvEventPublisher> everyPublisher = new ArrayList<>(publishers.values());
                Map<Long, Load> loads = Map.of(1L, new Load(11), 2L, new Load(22));
                for (int step = 0; step < 2000; step++) {
                    long w = 1 + step % 2;
                    loads.get(w).step(pools.get(w));
                    if (step == 1500) { // worker 2 restarts: a new pool and publisher, which begins with Cleared
                        loads.get(2L).releaseAll();
                        publishers.get(2L).close();
                        pools.get(2L).close();
                        pools.put(2L, BlockPool.create("G1-b2", 64, PAGE, BlockPool.Duplicates.REFUSE));
                        publishers.put(2L, new KvEventPublisher(2, pools.get(2L), w2));
                        everyPublisher.add(publishers.get(2L));
                    }
                    if (restart && step == 800) {
                        nats.stop();
                        // Once the workers know it is gone, what they publish fails (no reconnect buffer): lost.
                        awaitStatusNot(w1, "CONNECTED");
                        awaitStatusNot(w2, "CONNECTED");
                    }
                    if (restart && step == 1000) {
                        // The outage must have cost events before it ends: on a loaded machine the publishers may
                        // not have tried to send one in these 200 steps, so the load goes on until one failed.
                        long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                        while (everyPublisher.stream().mapToLong(KvEventPublisher::failedEvents).sum() == 0
                                && System.nanoTime() < until) {
                            loads.get(1L).step(pools.get(1L));
                            Thread.sleep(5);
                        }
                        nats.restart();
                        awaitStatus(w1, "CONNECTED");
                        awaitStatus(w2, "CONNECTED");
                        awaitStatus(routerSide, "CONNECTED");
                        Thread.sleep(300); // the subscriptions are re-established after the reconnect
                    }
                    if (!restart && step % 400 == 0) {
                        try (Connection raw = Nats.connect(nats.url())) {
                            for (String bad : List.of("not json", "{\"worker_id\":1}", "{\"version\":9,\"worker_id\":1,"
                                    + "\"event\":{\"event_id\":2,\"data\":\"cleared\"}}", "{\"worker_id\":99999999999999999999999,"
                                    + "\"event\":{\"event_id\":1,\"data\":\"cleared\"}}", "[]")) {
                                raw.publish(routerSide.eventsSubject(), bad.getBytes(StandardCharsets.UTF_8));
                            }
                            raw.flush(Duration.ofSeconds(5));
                        }
                    }
                }
                // One more request per worker once its publisher caught up, so a loss at the very end (an event lost
                // on the way, or batches dropped for a publisher that fell behind) shows as a gap too.
                for (long w : pools.keySet()) {
                    long caughtUp = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                    while (publishers.get(w).batchesBehind() > 0 && System.nanoTime() < caughtUp) {
                        Thread.sleep(5);
                    }
                    long before = pools.get(w).events().lastSequence();
                    while (pools.get(w).events().lastSequence() == before) { // a prompt under a page makes no event
                        loads.get(w).step(pools.get(w));
                    }
                }
                long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                int quietChecks = 0;
                while (System.nanoTime() < deadline && quietChecks < 5) {
                    boolean settled = true;
                    for (long w : pools.keySet()) {
                        settled &= pools.get(w).events().lag() == 0
                                && indexer.lastEventId(w) == publishers.get(w).lastEventId()
                                && !indexer.workers().getOrDefault(w, true);
                    }
                    quietChecks = settled ? quietChecks + 1 : 0;
                    Thread.sleep(30);
                }
                assertThat(quietChecks).as("the index caught up with every worker").isEqualTo(5);
                Random r = new Random(8);
                int hits = 0;
                for (int i = 0; i < 1000; i++) {
                    long[] hashes = TokenBlockSequence.of(Load.prompt(r), PAGE, SALT).sequenceHashes();
                    Map<Long, Integer> truth = new HashMap<>();
                    pools.forEach((w, pool) -> {
                        int n = pool.registeredPrefixLength(hashes);
                        if (n > 0) {
                            truth.put(w, n);
                        }
                    });
                    hits += truth.isEmpty() ? 0 : 1;
                    assertThat(indexer.match(hashes)).as("prompt %d", i).isEqualTo(truth);
                }
                assertThat(hits).isGreaterThan(100);
                if (restart) {
                    assertThat(everyPublisher.stream().mapToLong(KvEventPublisher::failedEvents).sum())
                            .as("events lost while the server was down").isPositive();
                    assertThat(indexer.gaps()).isPositive();
                    assertThat(indexer.snapshotsApplied()).isPositive();
                    assertThat(w1.snapshotsServed() + w2.snapshotsServed()).isPositive();
                } else {
                    assertThat(indexer.malformedEvents()).isEqualTo(5L * 5);
                    // NATS loses nothing here; a gap comes only from events a publisher could not send (the pool
                    // drops batches for a publisher that falls behind on a loaded machine, and skips their ids).
                    long lost = everyPublisher.stream().mapToLong(KvEventPublisher::failedEvents).sum();
                    assertThat(indexer.gaps()).isLessThanOrEqualTo(lost);
                }
                publishers.values().forEach(KvEventPublisher::close);
                feed.close();
            }
        }
    }

    private static void awaitStatusNot(NatsKvEvents events, String status) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (events.status().equals(status) && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertThat(events.status()).isNotEqualTo(status);
    }

    private static void awaitStatus(NatsKvEvents events, String status) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (!events.status().equals(status) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(events.status()).isEqualTo(status);
    }

    /** A seeded stream of requests: shared prefixes, random tails, held and released blocks. */
    private static final class Load {
        private static final int[][] PREFIXES = prefixes();
        private final Random random;
        private final Deque<List<ImmutableBlock>> held = new ArrayDeque<>();

        Load(long seed) {
            random = new Random(seed);
        }

        private static int[][] prefixes() {
            Random r = new Random(99);
            int[][] p = new int[6][];
            for (int i = 0; i < p.length; i++) {
                p[i] = r.ints(PAGE * (2 + r.nextInt(6)), 0, 50_000).toArray();
            }
            return p;
        }

        static int[] prompt(Random r) {
            int[] prefix = PREFIXES[r.nextInt(PREFIXES.length)];
            int keep = PAGE * r.nextInt(prefix.length / PAGE + 1);
            int tail = r.nextInt(4) == 0 ? 0 : PAGE * r.nextInt(4) + r.nextInt(PAGE);
            int[] out = java.util.Arrays.copyOf(prefix, keep + tail);
            for (int i = keep; i < out.length; i++) {
                out[i] = r.nextInt(50_000);
            }
            return out;
        }

        void releaseAll() {
            while (!held.isEmpty()) {
                held.removeFirst().forEach(ImmutableBlock::close);
            }
        }

        void step(BlockPool pool) {
            TokenBlockSequence seq = TokenBlockSequence.of(prompt(random), PAGE, SALT);
            int n = seq.completeBlocks();
            if (n == 0) {
                return;
            }
            List<MutableBlock> blocks;
            while (true) {
                try {
                    blocks = pool.allocate(n);
                    break;
                } catch (NotEnoughBlocksException e) {
                    if (held.isEmpty()) {
                        return;
                    }
                    held.removeFirst().forEach(ImmutableBlock::close);
                }
            }
            for (int i = 0; i < n; i++) {
                blocks.get(i).complete(seq, i);
            }
            held.addLast(new ArrayList<>(pool.register(blocks)));
            while (held.size() > 3 || (random.nextInt(3) == 0 && !held.isEmpty())) {
                held.removeFirst().forEach(ImmutableBlock::close);
            }
        }
    }
}
