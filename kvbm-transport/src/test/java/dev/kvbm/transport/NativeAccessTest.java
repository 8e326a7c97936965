package dev.kvbm.transport;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Without the native-access flag, building a worker fails at once and names the flag; before, it quietly built a
 * worker without an agent, and exporting metadata later advised adding a module that was already there.
 */
class NativeAccessTest {

    @Test
    void aWorkerBuiltWithoutNativeAccessIsRefusedNamingTheFlag() throws Exception {
        ChildJvm.Result result = ChildJvm.run(List.of("--illegal-native-access=deny"), NativeAccessProgram.class);
        assertThat(result.exitCode()).as(result.output()).isZero();
        assertThat(result.output()).contains("RESULT refused: no transfer agent for this worker: 'local' is"
                + " unavailable", "start the JVM with --enable-native-access=ALL-UNNAMED");
        assertThat(result.output()).doesNotContain("WARNING");
    }
}
