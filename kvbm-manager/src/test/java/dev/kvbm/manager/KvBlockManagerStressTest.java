package dev.kvbm.manager;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.StorageProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Eight request threads run the whole cycle against one manager with all three tiers (real host memory, real disk
 * files) for ten seconds — match across tiers, onboard, allocate, write KV, register, read back, release — while
 * offload and write-back run underneath and a ninth thread checks every tier's counts continuously. Every block a
 * request is handed in G1 must hold the bytes of its hash. Afterwards every block is back, and once the manager is
 * closed the storage providers report nothing outstanding.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class KvBlockManagerStressTest {
    private static final ModelShape SHAPE = KvBlockManagerTest.SHAPE;
    @TempDir
    Path dir;

    @Test
    void eightRequestThreadsForTenSecondsKeepBytesAndCountsRight() throws Exception {
        Backends loaded = Backends.load(getClass().getClassLoader(), Set.of());
        StorageProvider memory = loaded.storageProvider(StorageKind.SYSTEM);
        StorageProvider disk = loaded.storageProvider(StorageKind.disk(0)).inDirectory(dir);
        Backends backends = Backends.of(List.of(memory, disk), loaded.executorProviders(), List.of());
        // 40 requests: 5 shared roots of 3 blocks, 8 continuations each, 4..11 blocks in all.
        List<TokenBlockSequence> requests = new ArrayList<>();
        for (int root = 0; root < 5; root++) {
            for (int tail = 0; tail < 8; tail++) {
                int r = root;
                int t = tail;
                int[] tokens = IntStream.range(0, (4 + tail) * SHAPE.pageSize())
                        .map(i -> i < 3 * SHAPE.pageSize() ? r * 1000 + i : 100_000 + t * 7919 + i).toArray();
                requests.add(TokenBlockSequence.of(tokens, SHAPE.pageSize(), 7));
            }
        }
        AtomicReference<String> violation = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong cycles = new AtomicLong();
        AtomicLong shortOfBlocks = new AtomicLong();
        AtomicLong onboardFailures = new AtomicLong();
        try (KvBlockManager kvbm = KvBlockManager.builder().model(SHAPE).backends(backends).withoutAgent()
                .tier(Tier.G1, TierSpec.blocks(96)).tier(Tier.G2, TierSpec.blocks(48))
                .tier(Tier.G3, TierSpec.blocks(160)).offload(4, 16).build()) {
            Map<Long, Long> expected = new HashMap<>();
            for (TokenBlockSequence s : requests) {
                for (long h : s.sequenceHashes()) {
                    expected.computeIfAbsent(h, x -> Kv.expected(kvbm.layout(Tier.G1), x));
                }
            }
            List<Thread> threads = new ArrayList<>();
            for (int w = 0; w < 8; w++) {
                int worker = w;
                threads.add(Thread.ofPlatform().name("request-" + w).start(() -> {
                    SplittableRandom random = new SplittableRandom(worker);
                    while (!stop.get() && violation.get() == null) {
                        try {
                            request(kvbm, requests.get(random.nextInt(requests.size())), expected, violation,
                                    onboardFailures);
                            cycles.incrementAndGet();
                        } catch (NotEnoughBlocksException e) {
                            shortOfBlocks.incrementAndGet(); // back-pressure under contention, not a bug
                        } catch (Throwable e) {
                            violation.compareAndSet(null, "request-" + worker + ": " + e);
                        }
                    }
                }));
            }
            Thread checker = Thread.ofPlatform().name("invariants").start(() -> {
                while (!stop.get()) {
                    for (Tier t : kvbm.tiers()) {
                        BlockPool.Stats s = kvbm.metrics().tier(t);
                        if (s.free() < 0 || s.active() < 0 || s.inactive() < 0
                                || s.free() + s.active() + s.inactive() != s.total()) {
                            violation.compareAndSet(null, t + " counts do not add up: " + s);
                        }
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
            kvbm.offloadsIdle().join();
            for (Tier t : kvbm.tiers()) {
                BlockPool.Stats s = kvbm.metrics().tier(t);
                assertThat(s.active()).as("%s blocks still held after every request ended", t).isZero();
                assertThat(s.free() + s.inactive()).isEqualTo(s.total());
            }
            assertThat(cycles.get()).isGreaterThan(100);
            assertThat(onboardFailures.get()).isZero();
            KvbmMetrics m = kvbm.metrics();
            assertThat(m.hop(Tier.G1, Tier.G2).blocks()).as("offloads happened").isPositive();
            assertThat(m.hop(Tier.G2, Tier.G3).blocks()).as("write-backs to disk happened").isPositive();
            assertThat(m.onboards().blocks()).as("onboards happened").isPositive();
            assertThat(m.offloads().failures() + m.onboards().failures()).isZero();
            System.out.printf("%d request cycles, %d short of blocks, hit rate %.2f, offloads %s, onboards %s%n",
                    cycles.get(), shortOfBlocks.get(), m.hitRate(), m.offloads(), m.onboards());
        }
        assertThat(memory.bytesOutstanding()).as("host bytes after close").isZero();
        assertThat(memory.allocationsOutstanding()).isZero();
        assertThat(disk.bytesOutstanding()).as("disk bytes after close").isZero();
    }

    private static void request(KvBlockManager kvbm, TokenBlockSequence seq, Map<Long, Long> expected,
                                AtomicReference<String> violation, AtomicLong onboardFailures) {
        long[] hashes = seq.sequenceHashes();
        List<ImmutableBlock> held = new ArrayList<>();
        try {
            try (PrefixMatch hit = kvbm.match(hashes)) {
                if (!hit.blocks().isEmpty()) {
                    OnboardResult up = kvbm.onboard(hit.blocks()).join();
                    onboardFailures.addAndGet(up.failures().size());
                    held.addAll(up.prefix());
                    up.onboarded().subList(up.prefixLength(), up.onboarded().size()).forEach(ImmutableBlock::close);
                }
            }
            int have = held.size();
            List<MutableBlock> fresh = kvbm.allocate(hashes.length - have);
            List<MutableBlock> filled = new ArrayList<>();
            for (int i = 0; i < fresh.size(); i++) {
                Kv.write(kvbm.layout(Tier.G1), fresh.get(i).blockId(), hashes[have + i]);
                filled.add(fresh.get(i).complete(seq, have + i));
            }
            held.addAll(kvbm.register(filled));
            for (int i = 0; i < held.size(); i++) {
                ImmutableBlock b = held.get(i);
                long sum = Kv.checksum(kvbm.layout(Tier.G1), b.blockId());
                if (b.sequenceHash() != hashes[i] || sum != expected.get(hashes[i])) {
                    violation.compareAndSet(null, "G1 block " + b.blockId() + " handed out for block " + i
                            + " holds the wrong bytes (hash " + Long.toUnsignedString(b.sequenceHash()) + ")");
                }
            }
        } finally {
            held.forEach(ImmutableBlock::close);
        }
    }
}
