package dev.kvbm.transport;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The README's quick-start example, taken from the README itself, compiled and run in a child JVM with the flags
 * the README gives: it cannot rot without failing this test.
 */
class QuickStartTest {
    private static final Pattern EXAMPLE = Pattern.compile(
            "<!-- quick-start example -->\\s*```java\\n(.*?)```", Pattern.DOTALL);

    @Test
    void theReadmeExampleCompilesRunsAndVerifiesItsBytes() throws Exception {
        Path readme = Path.of("..", "README.md").toAbsolutePath().normalize();
        Matcher m = EXAMPLE.matcher(Files.readString(readme, StandardCharsets.UTF_8));
        assertThat(m.find()).as("README.md holds the quick-start example after '<!-- quick-start example -->'")
                .isTrue();
        String source = m.group(1);
        assertThat(source.lines().count()).as("about 30 lines").isBetween(20L, 45L);
        Path dir = Files.createTempDirectory("kvbm-quick-start");
        Path file = Files.writeString(dir.resolve("QuickStart.java"), source);
        try {
            ChildJvm.Result result = ChildJvm.run(List.of("--enable-native-access=ALL-UNNAMED"), file.toString());
            assertThat(result.exitCode()).as(result.output()).isZero();
            assertThat(result.output()).contains("verified 16384 bytes read from worker 1").doesNotContain("WARNING");
        } finally {
            Files.delete(file);
            Files.delete(dir);
        }
    }
}
