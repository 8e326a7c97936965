package dev.kvbm.backend.system;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.BackendProvider;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.Backends.ProviderStatus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BackendsDiscoveryTest {

    private static final ClassLoader LOADER = BackendsDiscoveryTest.class.getClassLoader();

    @Test
    void findsTheSystemProvidersThroughTheModuleGraph() {
        Backends backends = Backends.load(LOADER, Set.of());
        assertThat(backends.storageProviders()).extracting(BackendProvider::name)
                .containsExactly("system-disk", "system-memory");
        assertThat(backends.executorProviders()).extracting(BackendProvider::name).containsExactly("system-copy");
        assertThat(backends.agentProviders()).extracting(BackendProvider::name).containsExactly("local");
        assertThat(backends.agentProvider("local")).isInstanceOf(LocalAgentProvider.class);
        assertThat(backends.storageProvider(StorageKind.SYSTEM)).isInstanceOf(SystemStorageProvider.class);
        assertThat(backends.storageProvider(StorageKind.disk(0))).isInstanceOf(DiskStorageProvider.class);
        assertThat(backends.executorProvider(StorageKind.SYSTEM, StorageKind.disk(0)).name()).isEqualTo("system-copy");
        assertThat(backends.report()).allSatisfy(s -> assertThat(s.state()).isEqualTo(ProviderStatus.State.AVAILABLE));
    }

    @Test
    void selectionByProviderOrBackendName() {
        Backends onlyDisk = Backends.load(LOADER, Set.of("system-disk"));
        assertThat(onlyDisk.storageProviders()).extracting(BackendProvider::name).containsExactly("system-disk");
        assertThat(onlyDisk.report()).filteredOn(s -> s.name().equals("system-memory"))
                .extracting(ProviderStatus::state).containsExactly(ProviderStatus.State.NOT_SELECTED);
        assertThatThrownBy(() -> onlyDisk.storageProvider(StorageKind.SYSTEM))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("no available backend provides storage of kind System")
                .hasMessageContaining("[system-disk]");
        assertThat(Backends.load(LOADER, Set.of("system")).storageProviders()).hasSize(2);
        assertThat(Backends.parseSelection(" system , cuda,,")).containsExactly("system", "cuda");
    }

    @Test
    void aSelectedNameThatMatchesNothingIsAnError() {
        assertThatThrownBy(() -> Backends.load(LOADER, Set.of("cuda")))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("-Dkvbm.backends names [cuda]")
                .hasMessageContaining("system-memory");
    }

    @Test
    void noDeviceProviderSaysSo() {
        Backends backends = Backends.load(LOADER, Set.of());
        assertThatThrownBy(() -> backends.storageProvider(StorageKind.device(0)))
                .hasMessageContaining("no available backend provides storage of kind Device(0)");
        assertThat(backends.findExecutorProvider(StorageKind.device(0), StorageKind.SYSTEM)).isEmpty();
    }

    @Test
    void aBrokenProviderIsReportedWithoutHidingTheOthers(@TempDir Path dir) throws Exception {
        Path services = Files.createDirectories(dir.resolve("META-INF/services"));
        Files.writeString(services.resolve("dev.kvbm.api.spi.StorageProvider"), "com.example.NoSuchProvider\n");
        try (URLClassLoader loader = new URLClassLoader(new URL[] {dir.toUri().toURL()}, LOADER)) {
            System.err.println("[expected] BackendsDiscoveryTest: the warning below about com.example.NoSuchProvider"
                    + " is this test's deliberately broken provider, not a failure");
            Backends backends = Backends.load(loader, Set.of());
            assertThat(backends.storageProviders()).extracting(BackendProvider::name)
                    .containsExactly("system-disk", "system-memory");
            assertThat(backends.report()).filteredOn(s -> s.state() == ProviderStatus.State.FAILED_TO_LOAD)
                    .singleElement()
                    .satisfies(s -> assertThat(s.toString()).contains("com.example.NoSuchProvider"));
        }
    }
}
