package dev.kvbm.transport;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

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
        ChildJvm.Result big = run("repro", "64", String.valueOf(2 << 20));
        assertThat(big.exitCode()).as(big.output()).isZero();
        assertThat(big.output()).contains("RESULT failed-cleanly: ", "outside the memory agent worker-1 has registered");
        ChildJvm.Result small = run("repro", "1", String.valueOf(128 << 10));
        assertThat(small.exitCode()).as(small.output()).isZero();
        assertThat(small.output()).contains("RESULT failed-cleanly: ");
    }

    @Test
    void closeRacingRemoteReadsFromFourThreadsTenThousandTimes() throws Exception {
        ChildJvm.Result race = run("race", "4", "2500");
        assertThat(race.exitCode()).as(race.output()).isZero();
        assertThat(race.output()).containsPattern("RESULT race: \\d+ completed, \\d+ failed cleanly, 0 bytes outstanding");
    }

    private static ChildJvm.Result run(String... args) throws Exception {
        return ChildJvm.run(List.of("--enable-native-access=ALL-UNNAMED", "--illegal-native-access=deny", "-Xmx512m"),
                CloseWhileReadProgram.class, args);
    }
}
