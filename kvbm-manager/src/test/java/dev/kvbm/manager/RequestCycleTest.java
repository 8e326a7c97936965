package dev.kvbm.manager;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's request-cycle example, taken from the README itself, run as a single-file program in a child JVM
 * on this test run's module and class path with the flags the README gives: it cannot rot without failing here.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class RequestCycleTest {
    private static final Pattern EXAMPLE = Pattern.compile(
            "<!-- request-cycle example -->\\s*```java\\n(.*?)```", Pattern.DOTALL);

    @Test
    void theReadmeRequestCycleRunsAndOnboardsTheRightBytes() throws Exception {
        Path readme = Path.of("..", "README.md").toAbsolutePath().normalize();
        Matcher m = EXAMPLE.matcher(Files.readString(readme, StandardCharsets.UTF_8));
        assertThat(m.find()).as("README.md holds the example after '<!-- request-cycle example -->'").isTrue();
        String source = m.group(1);
        assertThat(source.lines().count()).as("under 30 lines of Java").isLessThan(30);
        Path dir = Files.createTempDirectory("kvbm-request-cycle");
        Path file = Files.writeString(dir.resolve("RequestCycle.java"), source);
        try {
            List<String> classPath = new ArrayList<>();
            for (String property : List.of("jdk.module.path", "java.class.path")) {
                for (String entry : System.getProperty(property, "").split(File.pathSeparator)) {
                    if (!entry.isBlank()) {
                        classPath.add(entry);
                    }
                }
            }
            String java = ProcessHandle.current().info().command().orElseThrow();
            Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                    String.join(File.pathSeparator, classPath), file.toString()).redirectErrorStream(true).start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertThat(p.waitFor(90, TimeUnit.SECONDS)).isTrue();
            assertThat(p.exitValue()).as(output).isZero();
            assertThat(output).contains("4 blocks onboarded from G2, block 3 holds 3").doesNotContain("WARNING");
        } finally {
            Files.delete(file);
            Files.delete(dir);
        }
    }
}
