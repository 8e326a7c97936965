package dev.kvbm.manager;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.StorageProvider;
import org.junit.jupiter.api.Test;

import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Which memory each tier gets: on the {@code ucx} agent, host tiers come from {@code ucx-host} (memory a peer
 * process on this host maps instead of copying), unless the spec names a provider; on any other agent from the
 * first provider of the kind. Lifetime and accounting stay the provider's.
 */
class TierMemoryTest {
    private static final ModelShape SHAPE = KvBlockManagerTest.SHAPE;
    private final Backends backends = Backends.load(getClass().getClassLoader(), Set.of());

    private StorageProvider named(String name) {
        return backends.storageProviders().stream().filter(p -> p.name().equals(name)).findFirst().orElseThrow();
    }

    @Test
    void aManagerOnTheUcxAgentPutsItsHostTiersInMemoryPeersMapAndANamedProviderStillWins() {
        RemotePullRaceTest.assumeUcx(backends);
        StorageProvider mapped = named("ucx-host");
        long before = mapped.bytesOutstanding();
        try (KvBlockManager kvbm = KvBlockManager.builder().model(SHAPE).backends(backends).agent("ucx")
                .tier(Tier.G1, TierSpec.blocks(8).storage(StorageKind.SYSTEM)).tier(Tier.G2, TierSpec.blocks(16))
                .build()) {
            assertThat(kvbm.storageProvider(Tier.G1)).isEqualTo("ucx-host");
            assertThat(kvbm.storageProvider(Tier.G2)).isEqualTo("ucx-host");
            assertThat(mapped.bytesOutstanding() - before).as("tiers and block-state tables")
                    .isGreaterThanOrEqualTo(24 * SHAPE.blockBytes());
            assertThat(kvbm.toString()).contains("from ucx-host");
            // The tier works as any other: a request's blocks register and match.
            TokenBlockSequence seq = KvBlockManagerTest.sequence(0, 3);
            KvBlockManager.closeAll(Kv.prefill(kvbm, seq));
            try (PrefixMatch hit = kvbm.match(seq.sequenceHashes())) {
                assertThat(hit.length()).isEqualTo(3);
            }
        }
        assertThat(mapped.bytesOutstanding()).as("ucx-host bytes after close").isEqualTo(before);
        assertThat(KvBlockManager.hostMemoryForPeers(backends).name()).as("an engine's own host memory")
                .isEqualTo("ucx-host");
        assertThat(KvBlockManager.hostMemoryForPeers(Backends.load(getClass().getClassLoader(),
                Set.of("system-memory"))).name()).as("without kvbm-backend-nixl").isEqualTo("system-memory");
        try (KvBlockManager kvbm = KvBlockManager.builder().model(SHAPE).backends(backends).agent("ucx")
                .tier(Tier.G1, TierSpec.blocks(4).storage(StorageKind.SYSTEM).provider("system-memory")).build()) {
            assertThat(kvbm.storageProvider(Tier.G1)).isEqualTo("system-memory");
        }
    }

    @Test
    void withoutTheUcxAgentHostTiersStayOnTheFirstProviderAndBadNamesAreRefused() {
        try (KvBlockManager kvbm = KvBlockManager.builder().model(SHAPE).backends(backends).agent("local")
                .tier(Tier.G1, TierSpec.blocks(4).storage(StorageKind.SYSTEM)).tier(Tier.G2, TierSpec.blocks(4))
                .build()) {
            assertThat(kvbm.storageProvider(Tier.G1)).isEqualTo("system-memory");
            assertThat(kvbm.storageProvider(Tier.G2)).isEqualTo("system-memory");
        }
        assertThatThrownBy(() -> KvBlockManager.builder().model(SHAPE).backends(backends).withoutAgent()
                .tier(Tier.G1, TierSpec.blocks(4).provider("no-such-memory")).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no storage provider named"
                        + " 'no-such-memory'").hasMessageContaining("system-memory");
        assertThatThrownBy(() -> KvBlockManager.builder().model(SHAPE).backends(backends).withoutAgent()
                .tier(Tier.G1, TierSpec.blocks(4).storage(StorageKind.SYSTEM).provider("system-disk")).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("does not supply");
        assertThat(named("system-memory").bytesOutstanding()).as("nothing left by the refused builds").isZero();
    }
}
