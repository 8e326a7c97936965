package dev.kvbm.events.nats;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Guards against surefire silently running these tests on the class path. */
class ModulePathTest {
    @Test
    void testsRunInTheNamedModule() {
        assertThat(getClass().getModule().isNamed()).isTrue();
        assertThat(getClass().getModule().getName()).isEqualTo("dev.kvbm.events.nats");
    }
}
