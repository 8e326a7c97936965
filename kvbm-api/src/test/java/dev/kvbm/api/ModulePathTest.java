package dev.kvbm.api;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Guards against a build that silently runs the tests on the class path (surefire 3.5.3 and older did). */
class ModulePathTest {
    @Test
    void testsRunInTheNamedModule() {
        assertThat(getClass().getModule().isNamed()).isTrue();
        assertThat(getClass().getModule().getName()).isEqualTo("dev.kvbm.api");
    }
}
