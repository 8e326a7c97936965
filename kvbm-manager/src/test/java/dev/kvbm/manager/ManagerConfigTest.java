package dev.kvbm.manager;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The manager's settings from YAML and JSON files: what they build, and what they refuse with a clear message. */
class ManagerConfigTest {
    @TempDir
    Path dir;
    private final Backends backends = Backends.load(getClass().getClassLoader(), Set.of());

    private Path file(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text);
    }

    @Test
    void aYamlFileBuildsTheTiersItDescribes() throws IOException {
        Files.createDirectories(dir.resolve("disk"));
        Path yaml = file("kvbm.yaml", """
                worker_id: 18446744073709551615   # the largest u64
                agent: none
                duplicates: allow
                model: {num_layers: 4, outer_dim: 2, page_size: 16, inner_dim: 64, dtype_width_bytes: 2}
                tiers:
                  g1: {blocks: 10, layout: layer_separate, block_dimension: block_is_second_dim, storage: system}
                  g2: {bytes: 1MiB}
                  g3: {bytes: "2 MiB", directory: %s}
                offload: {max_in_flight: 2, batch_size: 8}
                """.formatted(dir.resolve("disk")));
        try (KvBlockManager kvbm = KvBlockManager.builder().config(yaml).backends(backends).build()) {
            long block = 4 * 2 * 16 * 64 * 2; // 16 KiB
            assertThat(kvbm.shape().blockBytes()).isEqualTo(block);
            assertThat(kvbm.tiers()).containsExactly(Tier.G1, Tier.G2, Tier.G3);
            assertThat(kvbm.layout(Tier.G1).config().numBlocks()).isEqualTo(10);
            assertThat(kvbm.layout(Tier.G1).isFullyContiguous()).isFalse();
            assertThat(kvbm.layout(Tier.G2).config().numBlocks()).isEqualTo((int) ((1 << 20) / block));
            assertThat(kvbm.layout(Tier.G2).isFullyContiguous()).isTrue();
            assertThat(kvbm.layout(Tier.G3).config().numBlocks()).isEqualTo((int) ((2 << 20) / block));
            assertThat(kvbm.layout(Tier.G3).kind().type()).isEqualTo(StorageKind.Type.DISK);
            assertThat(kvbm.transport().workerId()).isEqualTo(-1L);
            assertThat(kvbm.transport().agent()).isEmpty();
            // duplicates: allow — a second block of the same hash is kept privately
            TokenBlockSequence seq = TokenBlockSequence.of(Kv.tokens(0, 16), 16, 0);
            ImmutableBlock one = kvbm.register(java.util.List.of(kvbm.allocate(1).getFirst().complete(seq, 0)))
                    .getFirst();
            ImmutableBlock two = kvbm.register(java.util.List.of(kvbm.allocate(1).getFirst().complete(seq, 0)))
                    .getFirst();
            assertThat(two.isDuplicate()).isTrue();
            assertThat(two.blockId()).isNotEqualTo(one.blockId());
            one.close();
            two.close();
        }
    }

    @Test
    void aJsonFileBuildsToo() throws IOException {
        Path json = file("kvbm.json", """
                {"model": {"num_layers": 1, "outer_dim": 1, "page_size": 4, "inner_dim": 8},
                 "agent": "none",
                 "tiers": {"g1": {"blocks": 3}}}
                """);
        try (KvBlockManager kvbm = KvBlockManager.builder().config(json).backends(backends).build()) {
            assertThat(kvbm.tiers()).containsExactly(Tier.G1);
            assertThat(kvbm.shape()).isEqualTo(new ModelShape(1, 1, 4, 8, 2));
            assertThat(kvbm.layout(Tier.G1).kind()).as("no GPU backend: G1 is host memory")
                    .isEqualTo(StorageKind.SYSTEM);
        }
    }

    @Test
    void agentOptionsReachTheAgentWhichRefusesOnesItDoesNotKnow() throws IOException {
        String model = "model: {num_layers: 1, outer_dim: 1, page_size: 4, inner_dim: 8}\ntiers: {g1: {blocks: 3}}\n";
        Path good = file("good.yaml", model + "agent: local\nagent_options: {peer_timeout_ms: 5000, threads: 3}\n");
        try (KvBlockManager kvbm = KvBlockManager.builder().config(good).backends(backends).build()) {
            assertThat(kvbm.transport().agent()).isPresent();
        }
        // The local agent takes threads only: a misspelt key reaches it and is refused by name.
        Path typo = file("typo.yaml", model + "agent: local\nagent_options: {thread: 3}\n");
        assertThatThrownBy(() -> KvBlockManager.builder().config(typo).backends(backends).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("agent option 'thread' is not known to the local agent");
        Path zero = file("zero.yaml", model + "agent: local\nagent_options: {threads: 0}\n");
        assertThatThrownBy(() -> KvBlockManager.builder().config(zero).backends(backends).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("threads = '0'");
        // Options without an agent would be ignored: refused instead.
        assertThatThrownBy(() -> KvBlockManager.builder().config(good).backends(backends).withoutAgent().build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("agent options were given to a manager built without an agent");
        Path none = file("none.yaml", model + "agent: none\nagent_options: {peer_timeout_ms: 5000}\n");
        assertThatThrownBy(() -> KvBlockManager.builder().config(none).backends(backends).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("agent options were given to a manager built without an agent");
    }

    @Test
    void mistakesAreNamedWithWhatWouldBeRight() throws IOException {
        String model = "model: {num_layers: 1, outer_dim: 2, page_size: 4, inner_dim: 8}\n";
        assertRefused("a.yaml", model + "tiers: {g1: {blocks: 3, blockz: 4}}",
                "unknown key [blockz] in tiers.g1", "known: [block_dimension, blocks, bytes");
        assertRefused("b.yaml", model + "tiers: {g1: {bytes: 8 gigs}}", "tiers.g1.bytes is '8 gigs'", "8GiB");
        assertRefused("c.yaml", model + "tiers: {g1: {blocks: 3, bytes: 1GiB}}", "exactly one of 'blocks'");
        assertRefused("d.yaml", model + "tiers: {g4: {blocks: 3}}", "unknown key [g4] in tiers");
        assertRefused("e.yaml", "tiers: {g1: {blocks: 3}}", "model is required");
        assertRefused("f.yaml", "model: {num_layers: 1, outer_dim: 3, page_size: 4, inner_dim: 8}\n"
                + "tiers: {g1: {blocks: 3}}", "outerDim", "1 (fused KV");
        assertRefused("g.yaml", model + "tiers: {g1: {blocks: 3, storage: gpu}}", "allowed: system, pinned");
        assertRefused("h.yaml", model + "tiers: {g1: {blocks: -3}}", "tiers.g1.blocks must be an integer 0..2^64-1");
        assertRefused("i.yaml", model + "tiers: {g1: {bytes: 99999999999TiB}}", "more bytes than");
        assertRefused("dup.yaml", model + "tiers: {g1: {blocks: 3}}\nduplicates: allow\nduplicates: refuse",
                "is not valid YAML", "Duplicate field 'duplicates'");
        assertRefused("dup.json", "{\"tiers\": {}, \"tiers\": {}}", "is not valid JSON", "Duplicate field 'tiers'");
        assertRefused("two.json", "{\"agent\": \"none\"} {\"agent\": \"ucx\"}", "is not valid JSON",
                "Trailing token");
        assertRefused("empty.yaml", "", "is empty");
        assertRefused("huge.json", "{\"agent\": \"" + "x".repeat(ManagerConfig.MAX_FILE_BYTES) + "\"}",
                "larger than " + ManagerConfig.MAX_FILE_BYTES);
        assertRefused("pr.yaml", model + "tiers: {g1: {blocks: 3, provider: no-such-memory}}",
                "no storage provider named 'no-such-memory'");
        assertRefused("i2.yaml", model + "tiers: {g1: {bytes: 32KB}}", "'32KB', which is ambiguous", "32KiB");
        assertRefused("i3.yaml", model + "tiers: {g1: {bytes: 2 gb}}", "'2 gb', which is ambiguous", "2GiB");
        assertRefused("j.yaml", model + "tiers: {g1: {blocks: 3}\n  - broken", "is not valid YAML");
        assertRefused("k.json", "{\"model\": [1, 2]}", "model must be a mapping");
        assertRefused("l.toml", "", "name it .json, .yaml or .yml");
        assertRefused("m.yaml", model + "tiers: {g1: {bytes: 10}}", "holds no block of 128 bytes");
        assertRefused("n.yaml", model + "tiers: {g2: {blocks: 3}}", "tier G1 is required");
        assertRefused("o.yaml", model + "tiers: {g1: {blocks: 3, block_dimension: block_is_first_dim}}",
                "applies to layout layer_separate only");
        assertRefused("p.yaml", model + "tiers: {g1: {blocks: 3}}\nevents: {sink: in-process, heartbeat_ms: -5}",
                "events.heartbeat_ms must be 0 (none) or a positive number of milliseconds, got -5");
        assertRefused("q.yaml", model + "tiers: {g1: {blocks: 3}}\nevents: {sink: in-process, heartbeat_ms: 1s}",
                "events.heartbeat_ms must be an integer");
        assertRefused("r.yaml", model + "tiers: {g1: {blocks: 3}}\nagent_options: {peer_timeout_ms: 0}",
                "agent_options.peer_timeout_ms must be a positive number of milliseconds, got 0");
        assertRefused("s.yaml", model + "tiers: {g1: {blocks: 3}}\nagent_options: [ucx.TLS]",
                "agent_options must be an object such as {peer_timeout_ms: 30000, ucx.TLS: tcp}");
        assertRefused("t.yaml", model + "tiers: {g1: {blocks: 3}}\nagent_options: {ucx.TLS: [tcp, shm]}",
                "agent_options.ucx.TLS must be a string, number or boolean");
        Path leaky = file("u.yaml", model + "tiers: {g1: {blocks: 3}}\nagent_options: {secret: [hunter2-hunter2-x]}");
        assertThatThrownBy(() -> KvBlockManager.builder().config(leaky).backends(backends).build())
                .hasMessageContaining("agent_options.secret must be a string").hasMessageNotContaining("hunter2");
        Path scalar = file("v.yaml", model + "tiers: {g1: {blocks: 3}}\nagent_options: hunter2-hunter2-x");
        assertThatThrownBy(() -> KvBlockManager.builder().config(scalar).backends(backends).build())
                .hasMessageContaining("agent_options must be an object").hasMessageNotContaining("hunter2");
    }

    private void assertRefused(String name, String text, String... fragments) throws IOException {
        Path f = file(name, text);
        assertThatThrownBy(() -> KvBlockManager.builder().config(f).backends(backends).withoutAgent().build())
                .as(name).isInstanceOf(IllegalArgumentException.class)
                .satisfies(e -> {
                    for (String fragment : fragments) {
                        assertThat(e.getMessage()).contains(fragment);
                    }
                });
    }
}
