package dev.kvbm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class InspectTest {
    /** Dynamo's test_metadata_pack_unpack bytes (its own fixture): worker 100, "worker_100", one FC layout. */
    static final byte[] DYNAMO_BYTES = HexFormat.of().parseHex(
            "640a776f726b65725f31303005010203040501fe64000000000000000100000000000000010202020408010200000474657374"
                    + "000001fb0010fb00100000");

    @TempDir
    Path dir;

    @Test
    void testsRunInTheNamedModule() {
        assertThat(getClass().getModule().isNamed()).isTrue();
    }

    @Test
    void dynamosFixturePrintsItsFields() throws Exception {
        Path file = Files.write(dir.resolve("meta.bin"), DYNAMO_BYTES);
        KvbmRun r = KvbmRun.of("inspect", file.toString());
        assertThat(r.exit()).as(r.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(r.out());
        assertThat(json.get("bytes").asInt()).isEqualTo(62);
        assertThat(json.get("worker_id").asLong()).isEqualTo(100);
        assertThat(json.get("agent_name").asText()).isEqualTo("worker_100");
        assertThat(json.get("agent_metadata").get("head_hex").asText()).isEqualTo("0102030405");
        JsonNode layout = json.get("layouts").get(0);
        assertThat(layout.get("handle").get("layout_id").asInt()).isEqualTo(1);
        assertThat(layout.get("descriptor").toString()).contains("\"num_blocks\":2").contains("\"test\"");
    }

    @Test
    void badInputIsOneLineWithTheOffsetAndExitCode2() throws Exception {
        byte[] cut = java.util.Arrays.copyOf(DYNAMO_BYTES, 30);
        KvbmRun r = KvbmRun.of("inspect", Files.write(dir.resolve("cut.bin"), cut).toString());
        assertThat(r.exit()).isEqualTo(2);
        assertThat(r.err().strip().lines()).hasSize(1);
        assertThat(r.err()).contains("offset");
        assertThat(r.out()).isEmpty();
        KvbmRun missing = KvbmRun.of("inspect", dir.resolve("nope.bin").toString());
        assertThat(missing.exit()).isEqualTo(2);
        assertThat(missing.err()).contains("cannot read");
        KvbmRun usage = KvbmRun.of("inspect");
        assertThat(usage.exit()).isEqualTo(64);
        assertThat(KvbmRun.of("--help").exit()).isZero();
        assertThat(KvbmRun.of("inspect", "--help").out()).contains("Exit codes");
    }

    @Test
    void aThousandFuzzedInputsNeverPrintAStackTrace() throws Exception {
        Random random = new Random(14);
        Path file = dir.resolve("fuzz.bin");
        int decoded = 0;
        for (int i = 0; i < 1000; i++) {
            byte[] bytes;
            if (i % 4 == 0) {
                bytes = new byte[random.nextInt(200)];
                random.nextBytes(bytes);
            } else {
                bytes = DYNAMO_BYTES.clone();
                for (int e = 0; e < 1 + random.nextInt(3); e++) {
                    bytes[random.nextInt(bytes.length)] = (byte) random.nextInt(256);
                }
                if (random.nextInt(5) == 0) {
                    bytes = java.util.Arrays.copyOf(bytes, random.nextInt(bytes.length + 20));
                }
            }
            Files.write(file, bytes);
            KvbmRun r = KvbmRun.of("inspect", file.toString());
            assertThat(r.exit()).as("input %s: %s", HexFormat.of().formatHex(bytes), r.err()).isIn(0, 2);
            assertThat(r.err()).doesNotContain("\tat ").doesNotContain("Exception in");
            if (r.exit() == 2) {
                assertThat(r.err().strip().lines()).hasSize(1);
            } else {
                decoded++;
            }
        }
        assertThat(decoded).isLessThan(1000);
    }
}
