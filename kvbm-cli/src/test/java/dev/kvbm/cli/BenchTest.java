package dev.kvbm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code kvbm bench disk} with one round: JSON lines with the baseline of the same run, and a chart. */
class BenchTest {
    @TempDir
    Path dir;

    @Test
    void diskPrintsOneJsonLinePerResultAndDrawsTheChart() throws Exception {
        if (List.of("/usr/bin/fio", "/usr/local/bin/fio").stream().noneMatch(p -> Files.isExecutable(Path.of(p)))) {
            String reason = "fio is not installed (Debian: apt-get install fio; scripts/test installs it)";
            if (List.of(System.getenv().getOrDefault("KVBM_REQUIRE", "").split(",")).contains("fio")) {
                org.junit.jupiter.api.Assertions.fail(reason + " and KVBM_REQUIRE=fio says it must be there");
            }
            Assumptions.abort(reason);
        }
        Path chart = dir.resolve("disk.svg");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = Kvbm.run(new String[] {"bench", "disk", "--rounds", "1", "--dir", dir.toString(), "--json",
                "--chart", chart.toString()}, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(exit).as(err.toString(StandardCharsets.UTF_8)).isZero();
        List<String> lines = out.toString(StandardCharsets.UTF_8).strip().lines().toList();
        assertThat(lines).hasSize(7);
        ObjectMapper json = new ObjectMapper();
        for (String line : lines) {
            JsonNode r = json.readTree(line);
            assertThat(r.get("bench").asText()).isEqualTo("disk");
            assertThat(r.get("baseline").asDouble()).isPositive();
            assertThat(r.get("unit").asText()).isIn("MiB/s", "MiB");
            assertThat(r.has("value") && r.has("ratio") && r.has("name")).isTrue();
        }
        assertThat(json.readTree(lines.getLast()).get("name").asText()).contains("page cache");
        assertThat(Files.readString(chart)).startsWith("<?xml").contains("<svg").contains("FullyContiguous");
        try (var left = Files.list(dir)) {
            assertThat(left.map(p -> p.getFileName().toString()).toList()).containsExactly("disk.svg");
        }
    }

    @Test
    void pullPrintsOneJsonLinePerAgentBlockSizeAndPullSize() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = Kvbm.run(new String[] {"bench", "pull", "--rounds", "1", "--json"},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(exit).as(err.toString(StandardCharsets.UTF_8)).isZero();
        List<String> lines = out.toString(StandardCharsets.UTF_8).strip().lines().toList();
        boolean ucx = !err.toString(StandardCharsets.UTF_8).contains("ucx: not available here");
        assertThat(lines).hasSize(ucx ? 8 : 4);
        ObjectMapper json = new ObjectMapper();
        for (String line : lines) {
            JsonNode r = json.readTree(line);
            assertThat(r.get("bench").asText()).isEqualTo("pull");
            assertThat(r.get("name").asText()).matches("(local|ucx) (64 KiB|2 MiB) x(1|16) verified");
            assertThat(r.get("value").asDouble()).isPositive();
            assertThat(r.get("baseline").asDouble()).isPositive();
            assertThat(r.get("ratio").asDouble()).isPositive();
            assertThat(r.get("unit").asText()).isEqualTo("blocks/s");
        }
    }

    @Test
    void absurdRoundsAndMisplacedOptionsAreBadUsage() {
        for (String[] args : List.of(new String[] {"bench", "copy", "--rounds", "0"},
                new String[] {"bench", "discovery", "--rounds", "-3"},
                new String[] {"bench", "disk", "--rounds", "99999999"},
                new String[] {"bench", "pull", "--etcd", "http://127.0.0.1:2379"},
                new String[] {"bench", "disk", "--netns"})) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int exit = Kvbm.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                    new PrintStream(err, true, StandardCharsets.UTF_8));
            assertThat(exit).as(String.join(" ", args)).isEqualTo(64);
            assertThat(err.toString(StandardCharsets.UTF_8)).containsAnyOf("--rounds must be 1..1000000",
                    "--etcd is an option of 'bench discovery' only", "--netns is an option of 'bench agent' only");
        }
    }

    @Test
    void discoveryTimesKilledWorkersAgainstTheTtl() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int exit = Kvbm.run(new String[] {"bench", "discovery", "--rounds", "2", "--json"},
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertThat(exit).as(err.toString(StandardCharsets.UTF_8)).isZero();
        List<String> lines = out.toString(StandardCharsets.UTF_8).strip().lines().toList();
        assertThat(lines).hasSize(2);
        ObjectMapper json = new ObjectMapper();
        for (String line : lines) {
            JsonNode r = json.readTree(line);
            assertThat(r.get("bench").asText()).isEqualTo("discovery");
            assertThat(r.get("name").asText()).matches("embedded: killed worker seen gone, (median|p99)");
            assertThat(r.get("value").asDouble()).isPositive();
            assertThat(r.get("baseline").asDouble()).isEqualTo(1000.0);
            assertThat(r.get("ratio").asDouble()).isEqualTo(r.get("value").asDouble() / 1000.0);
        }
    }

    @Test
    void poolRatiosDivideEachBenchmarkByItsOwnBaselineAndNameWhatARunDidNotGive() {
        Map<String, Double> best = new HashMap<>(Map.of("allocateRegisterRelease", 80.0, "hashMapLookup16", 8.0,
                "matchOnly128", 10.0, "match128", 20.0, "matchShared128", 12.0, "hashMapRemovePut16", 40.0,
                "hashMapLookup128", 4.0, "arrayPoolFloor16", 32.0));
        Map<String, Double> mean = new HashMap<>(best);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<dev.kvbm.bench.BenchResult> results = Bench.poolRatios(best, mean,
                new PrintStream(out, true, StandardCharsets.UTF_8));
        assertThat(results).extracting(dev.kvbm.bench.BenchResult::ratio).containsExactly(10.0, 2.5, 5.0, 3.0, 5.0, 4.0);
        assertThat(results).extracting(dev.kvbm.bench.BenchResult::baseline).containsExactly(8.0, 4.0, 4.0, 4.0, 8.0, 8.0);
        assertThat(out.toString(StandardCharsets.UTF_8)).contains("match 128 blocks (release untimed)").contains("2.5x");

        best.remove("matchOnly128"); // a benchmark that failed in the run
        mean.remove("hashMapLookup128");
        assertThatThrownBy(() -> Bench.poolRatios(best, mean, new PrintStream(new ByteArrayOutputStream())))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("[matchOnly128, hashMapLookup128]")
                .hasMessageContaining("benchmark and its baseline from the same run");
    }
}
