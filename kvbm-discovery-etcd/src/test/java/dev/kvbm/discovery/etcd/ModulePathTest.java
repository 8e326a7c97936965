package dev.kvbm.discovery.etcd;

import dev.kvbm.api.spi.DiscoveryProvider;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Guards against surefire silently running these tests on the class path, and finds the provider. */
class ModulePathTest {
    @Test
    void testsRunInTheNamedModuleAndTheProviderIsFound() {
        assertThat(getClass().getModule().isNamed()).isTrue();
        assertThat(getClass().getModule().getName()).isEqualTo("dev.kvbm.discovery.etcd");
        assertThat(DiscoveryProvider.named("etcd")).isInstanceOf(EtcdDiscoveryProvider.class);
        assertThat(DiscoveryProvider.named("etcd").isAvailable()).isTrue();
    }
}
