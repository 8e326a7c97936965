package dev.kvbm.transport;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Closing memory that a peer is reading, run in a child JVM ({@link CloseWhileReadProgram}) so that a crash fails
 * the test with the child's output instead of killing the build. Before the lifetime rule, the first case died
 * with SIGSEGV in a copy stub (exit 134) and the second silently copied freed memory.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class CloseWhileReadTest {

    @Test
    void aLayoutClosedWhileRegisteredIsNeverReadAfterItIsFreed() throws Exception {
        Child big = run("repro", "64", String.valueOf(2 << 20));
        assertThat(big.exitCode).as(big.output).isZero();
        assertThat(big.output).contains("RESULT failed-cleanly: ", "outside the memory agent worker-1 has registered");
        Child small = run("repro", "1", String.valueOf(128 << 10));
        assertThat(small.exitCode).as(small.output).isZero();
        assertThat(small.output).contains("RESULT failed-cleanly: ");
    }

    @Test
    void closeRacingRemoteReadsFromFourThreadsTenThousandTimes() throws Exception {
        Child race = run("race", "4", "2500");
        assertThat(race.exitCode).as(race.output).isZero();
        assertThat(race.output).containsPattern("RESULT race: \\d+ completed, \\d+ failed cleanly, 0 bytes outstanding");
    }

    private record Child(int exitCode, String output) {
    }

    private static Child run(String... args) throws IOException, InterruptedException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> classPath = new ArrayList<>();
        for (String property : List.of("jdk.module.path", "java.class.path")) {
            String value = System.getProperty(property, "");
            for (String entry : value.split(File.pathSeparator)) {
                if (!entry.isBlank()) {
                    classPath.add(entry);
                }
            }
        }
        Path testClasses = Path.of("target", "test-classes").toAbsolutePath();
        assertThat(testClasses).as("run from the module's directory, as Maven does").isDirectory();
        classPath.add(testClasses.toString());
        List<String> command = new ArrayList<>(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED",
                "--illegal-native-access=deny", "-Xmx512m", "-cp", String.join(File.pathSeparator, classPath),
                CloseWhileReadProgram.class.getName()));
        command.addAll(List.of(args));
        Path log = Files.createTempFile("kvbm-close-while-read", ".log");
        try {
            Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile())
                    .start();
            if (!process.waitFor(9, TimeUnit.MINUTES)) {
                process.destroyForcibly().waitFor();
                return new Child(-1, "child JVM timed out\n" + Files.readString(log, StandardCharsets.UTF_8));
            }
            return new Child(process.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(log);
        }
    }
}
