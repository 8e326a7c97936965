package dev.kvbm.manager;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ModulePathTest {
    @Test
    void testsRunInTheNamedModule() {
        assertThat(getClass().getModule().isNamed()).isTrue();
        assertThat(getClass().getModule().getName()).isEqualTo("dev.kvbm.manager");
    }
}
