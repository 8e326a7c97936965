package dev.kvbm.manager;

import dev.kvbm.api.spi.Backends;
import dev.kvbm.transport.LayoutHandle;
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
