package dev.kvbm.manager;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.StorageProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The manager's request cycle on real host memory and real disk files: prefix reuse, offload to G2 and G3, onboard
 * with identical bytes, and a failure injected at each hop leaving exactly the affected blocks missing.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class KvBlockManagerTest {
    static final ModelShape SHAPE = new ModelShape(2, 2, 4, 8, 2); // 256-byte blocks of 4 tokens
    static final long SALT = 1337;

    @TempDir
    Path dir;
    private StorageProvider memory;
    private StorageProvider disk;
    private TestDoubles.FaultyExecutors copies;
    private Backends backends;
    private final List<KvBlockManager> managers = new ArrayList<>();

    @BeforeEach
    void backends() {
        Backends loaded = Backends.load(getClass().getClassLoader(), Set.of());
        memory = loaded.storageProvider(StorageKind.SYSTEM);
        disk = loaded.storageProvider(StorageKind.disk(0)).inDirectory(dir);
        copies = new TestDoubles.FaultyExecutors(loaded.executorProvider(StorageKind.SYSTEM, StorageKind.disk(0)));
        backends = Backends.of(List.of(memory, disk), List.of(copies), loaded.agentProviders());
    }

    @AfterEach
    void nothingLeaks() {
        managers.forEach(KvBlockManager::close);
        assertThat(memory.bytesOutstanding()).as("host bytes outstanding after close").isZero();
        assertThat(disk.bytesOutstanding()).as("disk bytes outstanding after close").isZero();
    }

    private KvBlockManager manager(int g1, int g2, int g3) {
        KvBlockManager.Builder b = KvBlockManager.builder().model(SHAPE).backends(backends).withoutAgent()
                .tier(Tier.G1, TierSpec.blocks(g1).layerSeparate(dev.kvbm.api.BlockDimension.BLOCK_IS_FIRST_DIM));
        if (g2 > 0) {
            b.tier(Tier.G2, TierSpec.blocks(g2));
        }
        if (g3 > 0) {
            b.tier(Tier.G3, TierSpec.blocks(g3));
        }
        KvBlockManager m = b.build();
        managers.add(m);
        return m;
    }

    static TokenBlockSequence sequence(int firstToken, int blocks) {
        return TokenBlockSequence.of(Kv.tokens(firstToken, blocks * SHAPE.pageSize()), SHAPE.pageSize(), SALT);
    }

    private void assertBytes(KvBlockManager kvbm, List<ImmutableBlock> g1Blocks) {
        for (ImmutableBlock b : g1Blocks) {
            assertThat(b.tier()).isEqualTo("G1");
            assertThat(Kv.checksum(kvbm.layout(Tier.G1), b.blockId()))
                    .as("checksum of G1 block %d (hash %s)", b.blockId(), Long.toUnsignedString(b.sequenceHash()))
                    .isEqualTo(Kv.expected(kvbm.layout(Tier.G1), b.sequenceHash()));
        }
    }

    private static void await(KvBlockManager kvbm) {
        kvbm.offloadsIdle().join();
    }

    @Test
    void aSecondRequestReusesTheFirstRequestsPrefix() {
        KvBlockManager kvbm = manager(8, 0, 0);
        TokenBlockSequence first = sequence(0, 4);
        List<ImmutableBlock> held = Kv.prefill(kvbm, first);
        List<Integer> ids = held.stream().map(ImmutableBlock::blockId).toList();

        // While the first request still holds its blocks, and after it released them: the same blocks, same bytes.
        int[] second = Kv.tokens(0, 3 * SHAPE.pageSize() + 2);
        try (PrefixMatch hit = kvbm.match(TokenBlockSequence.of(second, SHAPE.pageSize(), SALT).sequenceHashes())) {
            assertThat(hit.blocks()).extracting(ImmutableBlock::blockId).containsExactlyElementsOf(ids.subList(0, 3));
        }
        KvBlockManager.closeAll(held);
        long[] other = sequence(0, 2).sequenceHashes();
        long[] asked = new long[] {other[0], other[1], sequence(100, 1).sequenceHashes()[0], first.sequenceHash(3)};
        try (PrefixMatch hit = kvbm.match(asked)) {
            assertThat(hit.length()).as("the match stops at the first miss").isEqualTo(2);
            assertThat(hit.inFirstTier()).extracting(ImmutableBlock::blockId).containsExactlyElementsOf(ids.subList(0, 2));
            assertBytes(kvbm, hit.blocks());
            assertThat(kvbm.metrics().tier(Tier.G1).active()).isEqualTo(2);
        }
        assertThat(kvbm.metrics().matchedBlocks(Tier.G1)).isEqualTo(5);
        assertThat(kvbm.metrics().matchAskedBlocks()).isEqualTo(7);
        assertThat(kvbm.pool(Tier.G1).stats().matchedBlocks()).as("the pool counts the manager's matches too")
                .isEqualTo(5);
        assertThat(kvbm.pool(Tier.G1).stats().missedBlocks()).isEqualTo(2);
        assertThat(kvbm.metrics().hitRate()).isEqualTo(5.0 / 7);
        assertThat(kvbm.metrics().tier(Tier.G1).inactive()).isEqualTo(4);
    }

    @Test
    void offloadThenOnboardFromHostReturnsIdenticalBytes() {
        KvBlockManager kvbm = manager(4, 16, 0);
        TokenBlockSequence a = sequence(0, 4);
        KvBlockManager.closeAll(Kv.prefill(kvbm, a));
        await(kvbm);
        assertThat(kvbm.metrics().hop(Tier.G1, Tier.G2).blocks()).isEqualTo(4);
        assertThat(kvbm.metrics().hop(Tier.G1, Tier.G2).bytes()).isEqualTo(4 * SHAPE.blockBytes());

        KvBlockManager.closeAll(Kv.prefill(kvbm, sequence(1000, 4))); // evicts A from G1; G2 has it already
        assertThat(kvbm.metrics().hop(Tier.G1, Tier.G2).skipped()).isEqualTo(4);
        for (long h : a.sequenceHashes()) {
            assertThat(kvbm.pool(Tier.G1).isRegistered(h)).isFalse();
        }
        await(kvbm); // B's offload holds B's G1 blocks while it copies them

        try (PrefixMatch hit = kvbm.match(a.sequenceHashes())) {
            assertThat(hit.offloaded()).hasSize(4).allMatch(b -> b.tier().equals("G2"));
            try (OnboardResult up = kvbm.onboard(hit.blocks()).join()) {
                assertThat(up.isComplete()).isTrue();
                assertThat(up.onboarded()).extracting(ImmutableBlock::sequenceHash)
                        .containsExactly(a.sequenceHashes()[0], a.sequenceHashes()[1], a.sequenceHashes()[2],
                                a.sequenceHashes()[3]);
                assertBytes(kvbm, up.onboarded());
            }
        }
        assertThat(kvbm.metrics().onboards().blocks()).isEqualTo(4);
        try (PrefixMatch again = kvbm.match(a.sequenceHashes())) {
            assertThat(again.inFirstTier()).as("onboarded blocks are registered in G1").hasSize(4);
        }
    }

    @Test
    void offloadThenOnboardFromDiskReturnsIdenticalBytesAndEventsTellEveryStoreAndRemove() {
        KvBlockManager kvbm = manager(4, 4, 32);
        EventLog g2 = new EventLog();
        kvbm.pool(Tier.G2).events().subscribe(g2);
        TokenBlockSequence a = sequence(0, 4);
        TokenBlockSequence b = sequence(5000, 4);
        KvBlockManager.closeAll(Kv.prefill(kvbm, a));
        await(kvbm);
        KvBlockManager.closeAll(Kv.prefill(kvbm, b)); // A leaves G1; B's offload evicts A from G2 to G3
        await(kvbm);
        assertThat(kvbm.metrics().hop(Tier.G2, Tier.G3).blocks()).isEqualTo(4);

        try (PrefixMatch hit = kvbm.match(a.sequenceHashes())) {
            assertThat(hit.blocks()).hasSize(4).allMatch(x -> x.tier().equals("G3"));
            try (OnboardResult up = kvbm.onboard(hit.blocks()).join()) {
                assertThat(up.isComplete()).isTrue();
                assertBytes(kvbm, up.onboarded());
            }
        }
        assertThat(kvbm.metrics().hop(Tier.G3, Tier.G1).blocks()).isEqualTo(4);

        // G2 saw A stored, A removed (evicted to G3), B stored — in this order for each block.
        List<String> expected = new ArrayList<>();
        for (long h : a.sequenceHashes()) {
            expected.add("stored " + Long.toUnsignedString(h));
        }
        List<String> seen = g2.awaitAtLeast(12);
        for (long h : a.sequenceHashes()) {
            String s = Long.toUnsignedString(h);
            assertThat(seen.indexOf("stored " + s)).isGreaterThanOrEqualTo(0).isLessThan(seen.indexOf("removed " + s));
        }
        for (long h : b.sequenceHashes()) {
            assertThat(seen).contains("stored " + Long.toUnsignedString(h));
        }
        // A was offloaded (and awaited) before B was prefilled: every store of A precedes every store of B. (Within
        // A, the offloader may register its blocks in more than one batch, so their order among themselves varies.)
        int lastOfA = expected.stream().mapToInt(seen::indexOf).max().orElseThrow();
        for (long h : b.sequenceHashes()) {
            assertThat(seen.indexOf("stored " + Long.toUnsignedString(h))).isGreaterThan(lastOfA);
        }
    }

    @Test
    void aFailedOffloadToHostLeavesExactlyThatBlockOutOfG2() {
        KvBlockManager kvbm = manager(8, 16, 0);
        TokenBlockSequence a = sequence(0, 4);
        List<MutableBlock> blocks = kvbm.allocate(4);
        copies.poison = TestDoubles.readsFrom(kvbm.layout(Tier.G1).storage(),
                Kv.regions(kvbm.layout(Tier.G1), blocks.get(1).blockId()));
        List<MutableBlock> filled = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Kv.write(kvbm.layout(Tier.G1), blocks.get(i).blockId(), a.sequenceHash(i));
            filled.add(blocks.get(i).complete(a, i));
        }
        KvBlockManager.closeAll(kvbm.register(filled));
        await(kvbm);
        copies.poison = x -> false;

        assertThat(kvbm.metrics().hop(Tier.G1, Tier.G2)).isEqualTo(new KvbmMetrics.HopStats(3,
                3 * SHAPE.blockBytes(), 1, 0, 0));
        for (int i = 0; i < 4; i++) {
            assertThat(kvbm.pool(Tier.G2).isRegistered(a.sequenceHash(i))).as("block %d in G2", i).isEqualTo(i != 1);
        }
        assertThat(kvbm.metrics().tier(Tier.G2).free()).as("the failed block's G2 space was freed").isEqualTo(13);
    }

    @Test
    void aFailedWriteBackToDiskLeavesExactlyThatBlockUnmatchable() {
        KvBlockManager kvbm = manager(4, 4, 32);
        TokenBlockSequence a = sequence(0, 4);
        KvBlockManager.closeAll(Kv.prefill(kvbm, a));
        await(kvbm);
        int g2Block;
        try (PrefixMatch m = kvbm.match(new long[] {a.sequenceHash(2)})) { // G1 has A; look in G2 itself
            ImmutableBlock x = kvbm.pool(Tier.G2).acquireRegistered(a.sequenceHash(2));
            g2Block = x.blockId();
            x.close();
        }
        copies.poison = TestDoubles.readsFrom(kvbm.layout(Tier.G2).storage(), Kv.regions(kvbm.layout(Tier.G2), g2Block));
        KvBlockManager.closeAll(Kv.prefill(kvbm, sequence(7000, 4)));
        await(kvbm);
        copies.poison = x -> false;

        assertThat(kvbm.metrics().hop(Tier.G2, Tier.G3).failures()).isEqualTo(1);
        assertThat(kvbm.metrics().hop(Tier.G2, Tier.G3).blocks()).isEqualTo(3);
        try (PrefixMatch hit = kvbm.match(a.sequenceHashes())) {
            assertThat(hit.length()).as("A's block 2 is nowhere, so the prefix ends before it").isEqualTo(2);
            assertThat(kvbm.pool(Tier.G3).isRegistered(a.sequenceHash(3))).isTrue();
            assertThat(kvbm.pool(Tier.G3).isRegistered(a.sequenceHash(2))).isFalse();
        }
    }

    @Test
    void aFailedOnboardFromDiskReportsExactlyThatBlockAndNeverRegistersIt() {
        KvBlockManager kvbm = manager(4, 4, 32);
        onboardWithOneFailure(kvbm, pushedOutOfG1(kvbm), Tier.G3);
    }

    @Test
    void aFailedOnboardFromHostReportsExactlyThatBlockAndNeverRegistersIt() {
        KvBlockManager kvbm = manager(4, 16, 0);
        onboardWithOneFailure(kvbm, pushedOutOfG1(kvbm), Tier.G2);
    }

    /** Prefills 4 blocks, then 4 others that push them out of a 4-block G1 (and, with a 4-block G2, to G3). */
    private static TokenBlockSequence pushedOutOfG1(KvBlockManager kvbm) {
        TokenBlockSequence a = sequence(0, 4);
        KvBlockManager.closeAll(Kv.prefill(kvbm, a));
        await(kvbm);
        KvBlockManager.closeAll(Kv.prefill(kvbm, sequence(9000, 4)));
        await(kvbm); // blocks being offloaded are held; G1 needs all four back
        return a;
    }

    private void onboardWithOneFailure(KvBlockManager kvbm, TokenBlockSequence a, Tier from) {
        try (PrefixMatch hit = kvbm.match(a.sequenceHashes())) {
            assertThat(hit.blocks()).hasSize(4).allMatch(x -> x.tier().equals(from.name()));
            copies.poison = TestDoubles.readsFrom(kvbm.layout(from).storage(),
                    Kv.regions(kvbm.layout(from), hit.blocks().get(1).blockId()));
            int freeBefore = kvbm.metrics().tier(Tier.G1).free() + kvbm.metrics().tier(Tier.G1).inactive();
            try (OnboardResult up = kvbm.onboard(hit.blocks()).join()) {
                copies.poison = x -> false;
                assertThat(up.failures()).hasSize(1);
                OnboardResult.Failure f = up.failures().getFirst();
                assertThat(f.index()).isEqualTo(1);
                assertThat(f.sequenceHash()).isEqualTo(a.sequenceHash(1));
                assertThat(f.fromTier()).isEqualTo(from);
                assertThat(f.cause()).hasMessageContaining("injected");
                assertThat(up.prefixLength()).isEqualTo(1);
                assertThat(up.onboardedIndices()).containsExactly(0, 2, 3);
                assertBytes(kvbm, up.onboarded());
                assertThat(kvbm.pool(Tier.G1).isRegistered(a.sequenceHash(1)))
                        .as("a block whose bytes did not land is never matchable").isFalse();
                assertThat(kvbm.metrics().tier(Tier.G1).active()).isEqualTo(3);
                assertThat(kvbm.metrics().tier(Tier.G1).free() + kvbm.metrics().tier(Tier.G1).inactive())
                        .as("the failed block's G1 space is free again").isEqualTo(freeBefore - 3);
                assertThat(kvbm.metrics().hop(from, Tier.G1)).isEqualTo(new KvbmMetrics.HopStats(3,
                        3 * SHAPE.blockBytes(), 1, 0, 0));
            }
        }
    }

    @Test
    void onboardingBlocksAlreadyInG1SharesThemAndTooFewG1BlocksTakesNothing() {
        KvBlockManager kvbm = manager(4, 16, 0);
        TokenBlockSequence a = sequence(0, 4);
        List<ImmutableBlock> held = Kv.prefill(kvbm, a);
        try (OnboardResult up = kvbm.onboard(held).join()) {
            assertThat(up.onboarded()).extracting(ImmutableBlock::blockId)
                    .containsExactlyElementsOf(held.stream().map(ImmutableBlock::blockId).toList());
        }
        await(kvbm);
        // G1 is all held: onboarding 4 G2 blocks cannot get G1 space, and nothing is taken.
        try (PrefixMatch inG2 = new PrefixMatch(kvbm.pool(Tier.G2).match(a.sequenceHashes(), 0))) {
            KvBlockManager.closeAll(held);
            List<MutableBlock> all = kvbm.allocate(4);
            assertThatThrownBy(() -> kvbm.onboard(inG2.blocks())).isInstanceOf(NotEnoughBlocksException.class)
                    .hasMessageContaining("4");
            assertThat(kvbm.metrics().tier(Tier.G2).active()).as("no share leaked").isEqualTo(4);
            KvBlockManager.closeAll(all);
        }
        assertThat(kvbm.metrics().tier(Tier.G2).active()).isZero();
    }

    @Test
    void blocksOfAnotherManagerAreRefusedByName() {
        KvBlockManager one = manager(4, 0, 0);
        KvBlockManager two = manager(4, 0, 0);
        List<ImmutableBlock> held = Kv.prefill(one, sequence(0, 1));
        assertThatThrownBy(() -> two.onboard(held)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("another manager");
        assertThat(one.metrics().tier(Tier.G1).active()).isEqualTo(1);
        KvBlockManager.closeAll(held);
        assertThatThrownBy(() -> one.pool(Tier.G3)).hasMessageContaining("no tier G3");
        one.close();
        assertThatThrownBy(() -> one.allocate(1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("closed");
    }

    @Test
    void carelessCallsAreRefusedByNameAndTakeNothing() {
        KvBlockManager kvbm = manager(4, 8, 0);
        try (OnboardResult none = kvbm.onboard(List.of()).join()) {
            assertThat(none.onboarded()).isEmpty();
            assertThat(none.isComplete()).isTrue();
        }
        List<ImmutableBlock> held = Kv.prefill(kvbm, sequence(0, 2));
        await(kvbm); // the offload holds shares while it copies
        held.get(1).close(); // the second of the list is released: the first was shared before the refusal
        assertThatThrownBy(() -> kvbm.onboard(held)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("block 1 of the list").hasMessageContaining("was released");
        assertThat(kvbm.metrics().tier(Tier.G1).active()).as("the other block's share was given back").isEqualTo(1);

        BlockPool other = BlockPool.create("other", 2, SHAPE.pageSize(), BlockPool.Duplicates.REFUSE);
        assertThatThrownBy(() -> other.release(held)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not other");
        KvBlockManager.release(held); // the closed handle is skipped, the open one released
        assertThat(kvbm.metrics().tier(Tier.G1).active()).isZero();

        int free = kvbm.metrics().tier(Tier.G1).free() + kvbm.metrics().tier(Tier.G1).inactive();
        assertThatThrownBy(() -> kvbm.pull(new RemoteBlocks(kvbm.handle(Tier.G2), new int[] {Integer.MAX_VALUE})))
                .isInstanceOf(IndexOutOfBoundsException.class);
        assertThat(kvbm.metrics().tier(Tier.G1).free() + kvbm.metrics().tier(Tier.G1).inactive())
                .as("a refused pull frees the blocks it took").isEqualTo(free);
        assertThatThrownBy(() -> kvbm.allocate(5)).isInstanceOf(NotEnoughBlocksException.class)
                .hasMessageContaining("5").hasMessageContaining("4");
        for (int absurd : new int[] {Integer.MAX_VALUE, 1 << 30}) { // refused before a list is sized for them
            assertThatThrownBy(() -> kvbm.allocate(absurd)).isInstanceOf(NotEnoughBlocksException.class)
                    .hasMessageContaining(Integer.toString(absurd));
            assertThatThrownBy(() -> kvbm.pool(Tier.G2).allocate(absurd)).isInstanceOf(NotEnoughBlocksException.class);
        }
        assertThat(kvbm.metrics().tier(Tier.G1).free() + kvbm.metrics().tier(Tier.G1).inactive()).isEqualTo(free);
        assertThatThrownBy(() -> new RemoteBlocks(kvbm.handle(Tier.G2), new int[] {-1}))
                .hasMessageContaining("negative");
    }

    @Test
    void aPrefixLongerThanALowerTierKeepsItsHeadThereWhateverTheOffloadBatches() {
        // G2 of 4 blocks, prefixes of 5: each offload or write-back fills from the head and drops the tail, so every
        // batching gives the same tiers; before, a prefix could lose its head (nothing matchable) or be skipped whole.
        TokenBlockSequence a = sequence(0, 5);
        TokenBlockSequence b = sequence(7000, 5);
        for (int batch : new int[] {1, 2, 3, 5, 16}) {
            for (int inFlight : new int[] {1, 4}) {
                for (int run = 0; run < 3; run++) {
                    KvBlockManager kvbm = KvBlockManager.builder().model(SHAPE).backends(backends).withoutAgent()
                            .offload(inFlight, batch).tier(Tier.G1, TierSpec.blocks(5))
                            .tier(Tier.G2, TierSpec.blocks(4)).tier(Tier.G3, TierSpec.blocks(32)).build();
                    managers.add(kvbm);
                    KvBlockManager.closeAll(Kv.prefill(kvbm, a));
                    await(kvbm);
                    assertThat(where(kvbm, a)).as("batch %d, %d in flight: A after its offload", batch, inFlight)
                            .containsExactly("G1+G2", "G1+G2", "G1+G2", "G1+G2", "G1");
                    KvBlockManager.closeAll(Kv.prefill(kvbm, b)); // A leaves G1; B's offload moves A to G3
                    await(kvbm);
                    List<String> tiers = new ArrayList<>(where(kvbm, a));
                    tiers.addAll(where(kvbm, b));
                    assertThat(tiers).as("batch %d, %d in flight: A then B", batch, inFlight)
                            .containsExactly("G3", "G3", "G3", "G3", "-", "G1+G2", "G1+G2", "G1+G2", "G1+G2", "G1");
                    try (PrefixMatch hit = kvbm.match(a.sequenceHashes())) {
                        assertThat(hit.length()).as("A's head is matchable").isEqualTo(4);
                    }
                    KvbmMetrics.HopStats down = kvbm.metrics().hop(Tier.G1, Tier.G2);
                    assertThat(down.dropped()).as("no room in G2: A's last block at its offload and again at its"
                            + " eviction from G1, B's at its offload").isEqualTo(3);
                    assertThat(down.skipped()).as("A's head, already in G2 when G1 evicted it").isEqualTo(4);
                }
            }
        }
    }

    /** Where each block of {@code seq} is registered: its tiers joined by '+', or '-' for none. */
    private static List<String> where(KvBlockManager kvbm, TokenBlockSequence seq) {
        List<String> out = new ArrayList<>();
        for (long h : seq.sequenceHashes()) {
            List<String> in = new ArrayList<>();
            for (Tier t : kvbm.tiers()) {
                if (kvbm.pool(t).isRegistered(h)) {
                    in.add(t.name());
                }
            }
            out.add(in.isEmpty() ? "-" : String.join("+", in));
        }
        return out;
    }

    @Test
    void aBuildRefusedOverItsEventSinkLeavesNoMemoryAndNoThreadBehind() {
        Set<String> threadsBefore = offloadThreads();
        List<java.util.function.Consumer<KvBlockManager.Builder>> refusals = List.of(
                b -> b.events("no-such-sink", java.util.Map.of()),
                b -> b.events("in-process", java.util.Map.of("servers", "nats://127.0.0.1:4222")),
                b -> b.events("in-process", java.util.Map.of()).eventHeartbeat(java.time.Duration.ofNanos(1)));
        for (var refusal : refusals) {
            KvBlockManager.Builder b = KvBlockManager.builder().model(SHAPE).backends(backends).withoutAgent()
                    .tier(Tier.G1, TierSpec.blocks(4)).tier(Tier.G2, TierSpec.blocks(4)).tier(Tier.G3,
                            TierSpec.blocks(4));
            refusal.accept(b);
            assertThatThrownBy(b::build).isInstanceOf(IllegalArgumentException.class);
            assertThat(memory.bytesOutstanding()).as("host bytes after a refused build").isZero();
            assertThat(disk.bytesOutstanding()).as("disk bytes after a refused build").isZero();
        }
        assertThat(offloadThreads()).as("offload threads after refused builds").isEqualTo(threadsBefore);
    }

    private static Set<String> offloadThreads() {
        Set<String> names = new java.util.HashSet<>();
        for (Thread t : Thread.getAllStackTraces().keySet()) {
            if (t.getName().startsWith("kvbm-offload-")) {
                names.add(t.getName() + "#" + t.threadId());
            }
        }
        return names;
    }

    /** Collects a pool's events as "stored H" / "removed H". */
    static final class EventLog implements Flow.Subscriber<BlockEvents.Batch> {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public void onSubscribe(Flow.Subscription s) {
            s.request(Long.MAX_VALUE);
        }

        @Override
        public void onNext(BlockEvents.Batch batch) {
            for (BlockEvent e : batch.events()) {
                events.add((e instanceof BlockEvent.Stored ? "stored " : "removed ")
                        + Long.toUnsignedString(e.sequenceHash()));
            }
        }

        @Override
        public void onError(Throwable t) {
        }

        @Override
        public void onComplete() {
        }

        List<String> awaitAtLeast(int n) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (events.size() < n && System.nanoTime() < deadline) {
                Thread.onSpinWait();
                Thread.yield();
            }
            assertThat(events.size()).as("events received").isGreaterThanOrEqualTo(n);
            return List.copyOf(events);
        }
    }
}
