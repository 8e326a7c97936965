package dev.kvbm.events.nats;

import dev.kvbm.manager.ImmutableBlock;
import dev.kvbm.manager.KvBlockManager;
import dev.kvbm.manager.MutableBlock;
import dev.kvbm.manager.Tier;
import dev.kvbm.manager.TokenBlockSequence;
import dev.kvbm.manager.events.KvIndexer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** A manager whose configuration file chooses the NATS sink, followed by an indexer on another connection. */
class ManagerEventsTest {
    @TempDir
    Path dir;

    @Test
    void aConfiguredManagerPublishesItsFirstTierOverNats() throws Exception {
        try (NatsServer nats = NatsServer.start();
             NatsKvEvents router = NatsKvEvents.connect(NatsKvEvents.Settings.of(nats.url(), "cfg"));
             KvIndexer indexer = new KvIndexer(router, Duration.ofMillis(500))) {
            AutoCloseable feed = router.feed(indexer);
            Path yaml = Files.writeString(dir.resolve("kvbm.yaml"), String.join("\n",
                    "worker_id: 42",
                    "agent: none",
                    "model: {num_layers: 2, outer_dim: 2, page_size: 4, inner_dim: 8, dtype_width_bytes: 2}",
                    "tiers:",
                    "  g1: {blocks: 16}",
                    "events: {sink: nats, servers: \"" + nats.url() + "\", namespace: cfg}", ""));
            try (KvBlockManager kvbm = KvBlockManager.builder().config(yaml).build()) {
                assertThat(kvbm.events()).isPresent();
                TokenBlockSequence seq = TokenBlockSequence.of(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 4, 0);
                List<MutableBlock> blocks = kvbm.allocate(3);
                for (int i = 0; i < 3; i++) {
                    blocks.get(i).complete(seq, i);
                }
                List<ImmutableBlock> held = kvbm.register(blocks);
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (indexer.match(seq.sequenceHashes()).isEmpty() && System.nanoTime() < deadline) {
                    Thread.sleep(20);
                }
                assertThat(indexer.match(seq.sequenceHashes())).isEqualTo(Map.of(42L, 3));
                assertThat(kvbm.pool(Tier.G1).registeredPrefixLength(seq.sequenceHashes())).isEqualTo(3);
                KvBlockManager.release(held);
            }
            feed.close();
        }
    }

    @Test
    void badSinkSettingsAreNamed() {
        assertThatThrownBy(() -> new NatsSinkProvider().open(Map.of("servers", "nats://127.0.0.1:1")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("events.namespace");
        assertThatThrownBy(() -> new NatsSinkProvider().open(Map.of("servers", "x", "namespace", "n", "colour", "red")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("events.colour");
        assertThatThrownBy(() -> new NatsSinkProvider().open(Map.of("servers", "x", "namespace", "a.b")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("subject token");
    }
}
