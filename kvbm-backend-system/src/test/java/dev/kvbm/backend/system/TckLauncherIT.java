package dev.kvbm.backend.system;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The kit's runner bundle as a vendor runs it ({@code kvbm-tck-runner/bin/kvbm-tck}, built by kvbm-tck) and
 * {@code scripts/tck}, once this module's jar exists: exit codes for --help, a missing jar, a jar that provides
 * nothing, no backend at all, and a real backend (this one).
 */
class TckLauncherIT {
    private static final Path MODULE = Path.of("").toAbsolutePath();
    private static final Path KIT = MODULE.resolveSibling("kvbm-tck");

    private record Run(int exitCode, String output) {
    }

    @Test
    void helpPrintsUsageAndRunsNothing() throws Exception {
        for (Path launcher : List.of(launcher(), MODULE.resolveSibling("scripts").resolve("tck"))) {
            Run run = run(launcher, "--help");
            assertThat(run.exitCode).as(run.output).isZero();
            assertThat(run.output).contains("usage: kvbm-tck", "Exit codes").doesNotContain("providers found");
        }
    }

    @Test
    void aMissingJarIsAnError() throws Exception {
        for (Path launcher : List.of(launcher(), MODULE.resolveSibling("scripts").resolve("tck"))) {
            Run run = run(launcher, "/nonexistent/vendor.jar");
            assertThat(run.exitCode).as(run.output).isEqualTo(2);
            assertThat(run.output).contains("/nonexistent/vendor.jar: no such jar").doesNotContain("passed");
        }
    }

    @Test
    void noBackendAtAllVerifiesNothingAndSaysSo() throws Exception {
        Run run = run(launcher());
        assertThat(run.exitCode).as(run.output).isEqualTo(2);
        assertThat(run.output).contains("nothing to verify");
    }

    @Test
    void aJarThatProvidesNothingIsAnError() throws Exception {
        Path api;
        try (Stream<Path> lib = Files.list(launcher().getParent().resolveSibling("lib"))) {
            api = lib.filter(p -> p.getFileName().toString().startsWith("kvbm-api-")).findFirst().orElseThrow();
        }
        Run run = run(launcher(), api.toString());
        assertThat(run.exitCode).as(run.output).isEqualTo(2);
        assertThat(run.output).contains("provides no StorageProvider, TransferExecutorProvider or AgentProvider");
    }

    @Test
    void aRealBackendIsVerifiedAndBadOptionsAreUsageErrors() throws Exception {
        Path system;
        try (Stream<Path> target = Files.list(MODULE.resolve("target"))) {
            system = target.filter(p -> p.getFileName().toString().matches("kvbm-backend-system-[^-]+(-SNAPSHOT)?\\.jar"))
                    .findFirst().orElseThrow();
        }
        Path report = Files.createTempDirectory("kvbm-tck-it");
        Run run = run(launcher(), "--backends", "system-memory", "--report", report.toString(), system.toString());
        assertThat(run.exitCode).as(run.output).isZero();
        assertThat(run.output).contains("system-memory (System) | required_1_1", "0 failed");
        assertThat(report.resolve("TEST-kvbm-tck.xml")).isRegularFile();
        assertThat(run(launcher(), "--frobnicate").exitCode).isEqualTo(64);
    }

    private static Path launcher() throws IOException {
        try (Stream<Path> target = Files.list(KIT.resolve("target"))) {
            Path bundle = target.filter(p -> p.getFileName().toString().startsWith("kvbm-tck-")
                    && p.getFileName().toString().endsWith("-runner") && Files.isDirectory(p)).findFirst().orElseThrow(() -> new AssertionError(
                    "no runner bundle in kvbm-tck/target/: kvbm-tck's package phase builds it"));
            return bundle.resolve("kvbm-tck-runner").resolve("bin").resolve("kvbm-tck");
        }
    }

    private static Run run(Path launcher, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("bash", launcher.toString()));
        command.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).directory(MODULE.toFile());
        builder.environment().put("JAVA_HOME", System.getProperty("java.home"));
        Process process = builder.start();
        byte[] output = process.getInputStream().readAllBytes();
        if (!process.waitFor(5, TimeUnit.MINUTES)) {
            process.destroyForcibly();
            throw new AssertionError("launcher did not finish: " + command);
        }
        return new Run(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    }
}
