package dev.kvbm.manager;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.layout.Layouts;
import dev.kvbm.layout.OwnedLayout;
import dev.kvbm.transport.LayoutHandle;
import dev.kvbm.transport.TransportManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Two workers (two managers with the {@code local} agent in this JVM; the UCX agent between processes is proven in
 * kvbm-transport): one exports its block sets, the other imports them and pulls blocks into its own G1.
 */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class RemoteBlocksTest {
    private final Backends backends = Backends.load(getClass().getClassLoader(), Set.of());

    private KvBlockManager worker(long id) {
        return KvBlockManager.builder().model(KvBlockManagerTest.SHAPE).backends(backends).agent("local").workerId(id)
                .tier(Tier.G1, TierSpec.blocks(8)).tier(Tier.G2, TierSpec.blocks(8)).build();
    }

    @Test
    void aDecodeWorkerPullsThePrefillWorkersBlocksAndServesThemAsItsOwn() {
        try (KvBlockManager prefill = worker(1); KvBlockManager decode = worker(2)) {
            TokenBlockSequence seq = KvBlockManagerTest.sequence(0, 3);
            List<ImmutableBlock> made = Kv.prefill(prefill, seq);
            List<LayoutHandle> sets = decode.importBlockSets(prefill.exportBlockSets());
            assertThat(sets).contains(prefill.handle(Tier.G1));
            RemoteBlocks remote = decode.remoteBlocks(prefill.handle(Tier.G1),
                    made.stream().mapToInt(ImmutableBlock::blockId).toArray());
            assertThat(remote.workerId()).isEqualTo(1);

            List<MutableBlock> pulled = decode.pull(remote).join();
            List<MutableBlock> completed = new ArrayList<>();
            for (int i = 0; i < pulled.size(); i++) {
                assertThat(Kv.checksum(decode.layout(Tier.G1), pulled.get(i).blockId()))
                        .isEqualTo(Kv.expected(decode.layout(Tier.G1), seq.sequenceHash(i)));
                completed.add(pulled.get(i).complete(seq, i));
            }
            KvBlockManager.closeAll(decode.register(completed));
            try (PrefixMatch hit = decode.match(seq.sequenceHashes())) {
                assertThat(hit.inFirstTier()).hasSize(3);
            }
            KvBlockManager.closeAll(made);
        }
    }

    @Test
    void importingLeavesTheBlockStateTablesOutOfTheBlockSets() {
        try (KvBlockManager prefill = worker(1); KvBlockManager decode = worker(2)) {
            assertThat(decode.importBlockSets(prefill.exportBlockSets()))
                    .containsExactly(prefill.handle(Tier.G1), prefill.handle(Tier.G2));
        }
    }

    @Test
    void aVerifiedPullRegistersWhatThePeerStillHoldsAndRefusesWhatItReplaced() {
        try (KvBlockManager prefill = worker(1); KvBlockManager decode = worker(2)) {
            TokenBlockSequence a = KvBlockManagerTest.sequence(0, 3);
            List<ImmutableBlock> made = Kv.prefill(prefill, a);
            int[] ids = made.stream().mapToInt(ImmutableBlock::blockId).toArray();
            KvBlockManager.release(made); // inactive: the peer may evict them at any time
            decode.importBlockSets(prefill.exportBlockSets());
            RemoteBlocks remote = decode.remoteBlocks(prefill.handle(Tier.G1), ids);

            // The peer needs 6 blocks: its 5 free ones and one evicted, a's last block (a leaf). Offloads to G2 hold
            // blocks while they run: let them end first.
            prefill.offloadsIdle().join();
            KvBlockManager.release(Kv.prefill(prefill, KvBlockManagerTest.sequence(1000, 6)));
            int freeBefore = decode.metrics().tier(Tier.G1).free();
            try (PullResult r = decode.pull(remote, a, 0).join()) {
                assertThat(r.pulledIndices()).containsExactly(0, 1);
                assertThat(r.prefixLength()).isEqualTo(2);
                for (int i = 0; i < 2; i++) {
                    ImmutableBlock b = r.pulled().get(i);
                    assertThat(b.tier()).isEqualTo("G1");
                    assertThat(b.sequenceHash()).isEqualTo(a.sequenceHash(i));
                    assertThat(Kv.checksum(decode.layout(Tier.G1), b.blockId()))
                            .isEqualTo(Kv.expected(decode.layout(Tier.G1), a.sequenceHash(i)));
                }
                assertThat(r.failures()).singleElement().satisfies(f -> {
                    assertThat(f.index()).isEqualTo(2);
                    assertThat(f.sequenceHash()).isEqualTo(a.sequenceHash(2));
                    assertThat(f.changed()).isTrue();
                    assertThat(f.cause()).hasMessageContaining("block " + ids[2])
                            .hasMessageContaining("not " + Long.toUnsignedString(a.sequenceHash(2)));
                });
            }
            assertThat(decode.metrics().tier(Tier.G1).free()).as("the refused block was freed")
                    .isEqualTo(freeBefore - 2);
            assertThat(decode.metrics().pulls()).isEqualTo(new KvbmMetrics.PullStats(2,
                    2 * KvBlockManagerTest.SHAPE.blockBytes(), 1, 0));
            try (PrefixMatch hit = decode.match(a.sequenceHashes())) {
                assertThat(hit.inFirstTier()).as("the refused block is not matchable").hasSize(2);
            }
        }
    }

    @Test
    void aVerifiedPullRefusesBlocksThePeerNeverRegistered() {
        try (KvBlockManager prefill = worker(1); KvBlockManager decode = worker(2)) {
            decode.importBlockSets(prefill.exportBlockSets());
            try (PullResult r = decode.pull(decode.remoteBlocks(prefill.handle(Tier.G1), 4), KvBlockManagerTest
                    .sequence(0, 1), 0).join()) {
                assertThat(r.pulled()).isEmpty();
                assertThat(r.failures()).singleElement().satisfies(f -> assertThat(f.cause())
                        .isInstanceOf(RemoteBlockChangedException.class).hasMessageContaining("never registered"));
            }
            assertThat(decode.metrics().tier(Tier.G1).free()).isEqualTo(8);
        }
    }

    @Test
    void aVerifiedPullNeedsThePeersBlockStatesAndTheSequenceBlocks() {
        try (KvBlockManager prefill = worker(1); KvBlockManager decode = worker(2);
             TransportManager plain = TransportManager.builder().workerId(3).backends(backends).agentProvider("local")
                     .build();
             OwnedLayout kv = Layouts.builder(KvBlockManagerTest.SHAPE.layoutConfig(4)).fullyContiguous()
                     .allocate(backends.storageProvider(StorageKind.SYSTEM), StorageKind.SYSTEM)) {
            LayoutHandle bare = plain.registerLayout(kv);
            assertThat(decode.importBlockSets(plain.exportMetadata())).containsExactly(bare);
            TokenBlockSequence seq = KvBlockManagerTest.sequence(0, 2);
            assertThatThrownBy(() -> decode.pull(decode.remoteBlocks(bare, 0), seq, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("exported no block states")
                    .hasMessageContaining("pull(remote)");
            assertThatThrownBy(() -> decode.pull(decode.remoteBlocks(prefill.handle(Tier.G1), 0), seq, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not imported");
            decode.importBlockSets(prefill.exportBlockSets());
            assertThatThrownBy(() -> decode.pull(decode.remoteBlocks(prefill.handle(Tier.G1), 0, 1), seq, 1))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("2 complete blocks");
            assertThatThrownBy(() -> decode.pull(decode.remoteBlocks(prefill.handle(Tier.G1), 0), seq, -1))
                    .isInstanceOf(IndexOutOfBoundsException.class);
            // A descriptor built by hand, past what remoteBlocks checks: refused before anything moves.
            assertThatThrownBy(() -> decode.pull(new RemoteBlocks(prefill.handle(Tier.G1), new int[] {8}), seq, 0))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("block id 8 is beyond");
            LayoutHandle table = new LayoutHandle(1, prefill.handle(Tier.G1).layoutId() + 1); // G1's state table
            assertThatThrownBy(() -> decode.pull(new RemoteBlocks(table, new int[] {0}), seq, 0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is a block-state table");
            assertThat(decode.metrics().tier(Tier.G1).free()).as("nothing taken").isEqualTo(8);
        }
    }

    @Test
    void aVerifiedPullFromAPeerThatWentAwayReportsEveryBlockFailedAndFreesThem() {
        KvBlockManager prefill = worker(1);
        try (KvBlockManager decode = worker(2)) {
            TokenBlockSequence seq = KvBlockManagerTest.sequence(0, 2);
            List<ImmutableBlock> made = Kv.prefill(prefill, seq);
            decode.importBlockSets(prefill.exportBlockSets());
            RemoteBlocks remote = decode.remoteBlocks(prefill.handle(Tier.G1),
                    made.stream().mapToInt(ImmutableBlock::blockId).toArray());
            prefill.close();
            try (PullResult r = decode.pull(remote, seq, 0).join()) {
                assertThat(r.pulled()).isEmpty();
                assertThat(r.failures()).hasSize(2).allSatisfy(f -> assertThat(f.changed()).isFalse());
            }
            assertThat(decode.metrics().tier(Tier.G1).free()).isEqualTo(8);
            assertThat(decode.metrics().pulls()).isEqualTo(new KvbmMetrics.PullStats(0, 0, 0, 2));
            try (PullResult none = decode.pull(decode.remoteBlocks(prefill.handle(Tier.G1)), seq, 2).join()) {
                assertThat(none.pulled()).isEmpty();
                assertThat(none.failures()).isEmpty();
            }
        } finally {
            prefill.close();
        }
    }

    @Test
    void badDescriptorsAreRefusedBeforeAnythingMoves() {
        try (KvBlockManager prefill = worker(1); KvBlockManager decode = worker(2)) {
            assertThatThrownBy(() -> decode.remoteBlocks(prefill.handle(Tier.G1), 0))
                    .hasMessageContaining("not imported");
            decode.importBlockSets(prefill.exportBlockSets());
            assertThatThrownBy(() -> decode.remoteBlocks(prefill.handle(Tier.G1), 8))
                    .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("8 blocks");
            assertThatThrownBy(() -> new RemoteBlocks(prefill.handle(Tier.G1), new int[] {1, 1}))
                    .hasMessageContaining("appears twice");
            int freeBefore = decode.metrics().tier(Tier.G1).free();
            assertThatThrownBy(() -> decode.pull(new RemoteBlocks(new LayoutHandle(1, 99), new int[] {0})))
                    .hasMessageContaining("handle");
            assertThat(decode.metrics().tier(Tier.G1).free()).as("nothing taken").isEqualTo(freeBefore);
        }
    }

    @Test
    void aPullFromAPeerThatWentAwayFailsAndFreesTheBlocks() {
        KvBlockManager prefill = worker(1);
        try (KvBlockManager decode = worker(2)) {
            decode.importBlockSets(prefill.exportBlockSets());
            RemoteBlocks remote = decode.remoteBlocks(prefill.handle(Tier.G1), 0, 1);
            prefill.close();
            int freeBefore = decode.metrics().tier(Tier.G1).free();
            assertThatThrownBy(() -> decode.pull(remote).join()).isInstanceOf(CompletionException.class);
            assertThat(decode.metrics().tier(Tier.G1).free()).isEqualTo(freeBefore);
        } finally {
            prefill.close();
        }
    }
}
