package dev.kvbm.backend.cuda;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ModulePathTest {
    @Test
    void testsRunInTheNamedModule() {
        assertThat(getClass().getModule().isNamed()).isTrue();
        assertThat(getClass().getModule().getName()).isEqualTo("dev.kvbm.backend.cuda");
    }
}
