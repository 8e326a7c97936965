package dev.kvbm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.Backends;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;

/** {@code kvbm demo} with small settings: two worker JVMs with the ucx agent between them. */
class DemoTest {
    @BeforeAll
    static void ucx() {
        AgentProvider ucx = Backends.shared().agentProviders().stream().filter(p -> p.name().equals("ucx"))
                .findFirst().orElseThrow();
        ucx.unavailabilityCause().ifPresent(cause -> {
            String reason = "UCX is not usable here: " + cause.getMessage();
            String require = System.getProperty("kvbm.require", "") + "," + System.getenv()
                    .getOrDefault("KVBM_REQUIRE", "");
            if (List.of(require.split(",")).contains("ucx")) {
                fail(reason + " (and KVBM_REQUIRE=ucx says it must be)");
            }
            abort(reason);
        });
    }

    @Test
    void everyByteVerifiesAndTheSummaryAddsUp() throws Exception {
        KvbmRun r = KvbmRun.of("demo", "--requests", "60", "--json");
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode s = new ObjectMapper().readTree(r.out());
        assertThat(s.get("failures")).isEmpty();
        assertThat(s.get("requests").asInt()).isEqualTo(60);
        long computed = s.get("paths").get("computed").get("blocks").asLong();
        long sum = 0;
        for (JsonNode p : s.get("paths")) {
            sum += p.get("blocks").asLong();
        }
        assertThat(sum).isEqualTo(s.get("blocks").asLong());
        assertThat(s.get("verified_blocks").asLong()).isEqualTo(s.get("blocks").asLong() - computed);
        assertThat(s.get("paths").get("remote_read").get("blocks").asLong()).isPositive();
        // The prefill worker holds still while the decode worker reads: a verified pull refuses nothing.
        assertThat(s.get("remote_refused").asLong()).isZero();
        assertThat(s.get("paths").get("g1_hit").get("blocks").asLong()).isPositive();
        assertThat(s.get("disk_files_left").asInt()).isZero();
    }

    @Test
    void withNatsTheDecodeWorkersKvIndexAgreesWithThePrefillWorkerOnEveryRequest() throws Exception {
        java.nio.file.Path server = java.nio.file.Path.of("/usr/sbin/nats-server");
        if (!java.nio.file.Files.isExecutable(server)) {
            String reason = "nats-server is not installed (Debian: apt-get install nats-server)";
            if (List.of((System.getenv().getOrDefault("KVBM_REQUIRE", "")).split(",")).contains("nats")) {
                fail(reason + " and KVBM_REQUIRE=nats says it must be there");
            }
            abort(reason);
        }
        int port;
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            port = s.getLocalPort();
        }
        Process nats = new ProcessBuilder(server.toString(), "-a", "127.0.0.1", "-p", Integer.toString(port))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            for (int i = 0; i < 100; i++) {
                try (java.net.Socket probe = new java.net.Socket("127.0.0.1", port)) {
                    break;
                } catch (java.io.IOException notYet) {
                    Thread.sleep(50);
                }
            }
            KvbmRun r = KvbmRun.of("demo", "--requests", "40", "--json", "--nats", "nats://127.0.0.1:" + port);
            assertThat(r.exit()).as(r.err()).isZero();
            JsonNode s = new ObjectMapper().readTree(r.out());
            assertThat(s.get("kv_index").get("queries").asInt()).isEqualTo(40);
            assertThat(s.get("kv_index").get("agreed").asInt()).isEqualTo(40);
        } finally {
            nats.destroy();
            nats.waitFor();
        }
    }

    @Test
    void aCorruptedBlockFailsTheRunNamingIt() {
        KvbmRun r = KvbmRun.of("demo", "--requests", "20", "--json", "--corrupt-block", "0");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("request 0 block 0 (hash ").contains("differs from what its tokens give");
    }

    @Test
    void aKilledDecodeWorkerIsNoticedAndThePrefillWorkerStopsCleanly() {
        KvbmRun r = KvbmRun.of("demo", "--requests", "60", "--kill-decode-after", "15");
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.err()).contains("the decode worker was lost after 15 of 60 requests")
                .contains("the prefill worker noticed").contains("prefill worker exited with 0 (cleanly)");
    }
}
