package dev.kvbm.manager;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Eight threads allocate, register, match and release against one pool for ten seconds while a ninth checks the
 * invariants continuously: counts add up to the pool's size, no block is held for writing by two requests or for
 * writing by one while shared by another, and reference counts never go negative (the pool throws if they would).
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class BlockPoolStressTest {
    private static final int PAGE = 4;
    private static final int BLOCKS = 256;

    @Test
    void eightThreadsForTenSecondsKeepEveryInvariant() throws Exception {
        BlockPool pool = BlockPool.create("stress", BLOCKS, PAGE, BlockPool.Duplicates.REFUSE);
        // 48 requests sharing prefixes: 6 roots x 8 continuations, 4 to 12 blocks each.
        List<TokenBlockSequence> requests = new ArrayList<>();
        for (int root = 0; root < 6; root++) {
            for (int tail = 0; tail < 8; tail++) {
                int blocks = 4 + tail;
                int r = root;
                int t = tail;
                int[] tokens = IntStream.range(0, blocks * PAGE).map(i -> i < 3 * PAGE ? r * 1000 + i : t * 7919 + i)
                        .toArray();
                requests.add(TokenBlockSequence.of(tokens, PAGE, 99));
            }
        }
        ConcurrentHashMap<Integer, String> writing = new ConcurrentHashMap<>();
        ConcurrentHashMap<Integer, AtomicInteger> sharing = new ConcurrentHashMap<>();
        AtomicReference<String> violation = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong cycles = new AtomicLong();
        AtomicLong refused = new AtomicLong();
        List<Thread> threads = new ArrayList<>();
        for (int w = 0; w < 8; w++) {
            int worker = w;
            threads.add(Thread.ofPlatform().name("stress-" + w).start(() -> {
                SplittableRandom random = new SplittableRandom(worker);
                while (!stop.get() && violation.get() == null) {
                    try {
                        cycle(pool, requests.get(random.nextInt(requests.size())), "worker-" + worker, writing,
                                sharing, violation, refused);
                        cycles.incrementAndGet();
                    } catch (RuntimeException e) {
                        violation.compareAndSet(null, "worker " + worker + ": " + e);
                    }
                }
            }));
        }
        Thread checker = Thread.ofPlatform().name("stress-checker").start(() -> {
            while (!stop.get()) {
                BlockPool.Stats s = pool.stats();
                if (s.free() + s.active() + s.inactive() != BLOCKS || s.free() < 0 || s.active() < 0
                        || s.inactive() < 0) {
                    violation.compareAndSet(null, "counts do not add up: " + s);
                }
                Thread.onSpinWait();
            }
        });
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < end && violation.get() == null) {
            Thread.sleep(50);
        }
        stop.set(true);
        for (Thread t : threads) {
            t.join();
        }
        checker.join();
        assertThat(violation.get()).isNull();
        assertThat(cycles.get()).as("request cycles run (%d refused for want of blocks)", refused.get())
                .isGreaterThan(1000);
        BlockPool.Stats after = pool.stats();
        assertThat(after.active()).as("every block is back").isZero();
        assertThat(after.free() + after.inactive()).isEqualTo(BLOCKS);
        assertThat(after.matchedBlocks()).as("requests reused each other's prefixes").isPositive();
    }

    private static void cycle(BlockPool pool, TokenBlockSequence request, String me,
                              ConcurrentHashMap<Integer, String> writing,
                              ConcurrentHashMap<Integer, AtomicInteger> sharing, AtomicReference<String> violation,
                              AtomicLong refused) {
        long[] hashes = request.sequenceHashes();
        List<ImmutableBlock> held = new ArrayList<>(pool.match(hashes));
        held.forEach(b -> share(b, writing, sharing, violation));
        List<MutableBlock> fresh;
        try {
            fresh = pool.allocate(hashes.length - held.size());
        } catch (NotEnoughBlocksException e) {
            refused.incrementAndGet();
            held.forEach(b -> unshare(b, sharing));
            held.forEach(ImmutableBlock::close);
            return;
        }
        for (MutableBlock b : fresh) {
            String other = writing.putIfAbsent(b.blockId(), me);
            AtomicInteger shared = sharing.get(b.blockId());
            if (other != null || (shared != null && shared.get() > 0)) {
                violation.compareAndSet(null, "block " + b.blockId() + " handed to " + me + " while held by "
                        + (other != null ? other : shared.get() + " sharers"));
            }
        }
        int matched = held.size();
        for (int i = 0; i < fresh.size(); i++) {
            MutableBlock b = fresh.get(i);
            b.complete(request, matched + i);
            writing.remove(b.blockId(), me);
            ImmutableBlock registered = pool.register(b);
            share(registered, writing, sharing, violation);
            held.add(registered);
        }
        for (ImmutableBlock b : held) {
            unshare(b, sharing);
            b.priority(b.blockId() % 3).close();
        }
    }

    private static void share(ImmutableBlock b, ConcurrentHashMap<Integer, String> writing,
                              ConcurrentHashMap<Integer, AtomicInteger> sharing, AtomicReference<String> violation) {
        sharing.computeIfAbsent(b.blockId(), k -> new AtomicInteger()).incrementAndGet();
        String w = writing.get(b.blockId());
        if (w != null) {
            violation.compareAndSet(null, "block " + b.blockId() + " shared while " + w + " writes it");
        }
    }

    private static void unshare(ImmutableBlock b, ConcurrentHashMap<Integer, AtomicInteger> sharing) {
        sharing.get(b.blockId()).decrementAndGet();
    }
}
