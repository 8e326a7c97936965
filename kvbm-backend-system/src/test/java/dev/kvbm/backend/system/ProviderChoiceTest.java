package dev.kvbm.backend.system;

import com.example.vendor.VendorHostMemory;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * A third party's provider of an existing kind (System memory) next to the reference ones: it serves only callers who
 * choose it, the choice is said once in the log, and its own vendor kind is served by it alone.
 */
class ProviderChoiceTest {
    private final List<String> logged = new ArrayList<>();
    private final Logger jul = Logger.getLogger(Backends.class.getName());
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord record) {
            synchronized (logged) {
                logged.add(record.getMessage());
            }
        }

        @Override
        public void flush() {
        }

        @Override
        public void close() {
        }
    };

    private java.util.logging.Level quiet;

    @BeforeEach
    void listen() {
        quiet = jul.getLevel(); // the tests' logging configuration shows warnings only
        jul.setLevel(java.util.logging.Level.INFO);
        jul.addHandler(handler);
    }

    @AfterEach
    void stopListening() {
        jul.removeHandler(handler);
        jul.setLevel(quiet);
        System.clearProperty("kvbm.provider.system");
        System.clearProperty("kvbm.provider.sytem");
        System.clearProperty("kvbm.executor.system.disk");
        System.clearProperty("kvbm.executor.system");
    }

    private static Backends withVendorJar() {
        SystemStorageProvider memory = new SystemStorageProvider();
        // Given in an order that puts the vendor first, as a name sort or a class path could.
        return Backends.asDiscovered(List.of(new VendorHostMemory(memory), new DiskStorageProvider(), memory),
                List.of(new HostCopyExecutorProvider()), List.of());
    }

    @Test
    void aVendorsProviderOfAnExistingKindDoesNotMoveOtherCallers() {
        Backends backends = withVendorJar();
        assertThat(backends.storageProvider(StorageKind.SYSTEM).name()).isEqualTo("system-memory");
        assertThat(backends.storageProvider(StorageKind.SYSTEM).name()).isEqualTo("system-memory");
        assertThat(backends.storageProviders().getLast().name()).isEqualTo("aaa-shm-memory");
        List<String> lines;
        synchronized (logged) {
            lines = logged.stream().filter(l -> l.startsWith("storage of kind System is offered by")).toList();
        }
        assertThat(lines).singleElement().isEqualTo("storage of kind System is offered by [system-memory,"
                + " aaa-shm-memory]; system-memory serves it (a provider this project ships comes before others, then"
                + " by name; choose another with -Dkvbm.provider.system=NAME)");
        assertThat(backends.choices()).extracting(Backends.Choice::chosen).contains("system-memory");
    }

    @Test
    void aCallerWhoChoosesTheVendorGetsIt() {
        Backends chosen = withVendorJar().choose(StorageKind.SYSTEM, "aaa-shm-memory");
        assertThat(chosen.storageProvider(StorageKind.SYSTEM).name()).isEqualTo("aaa-shm-memory");
        // The disk provider is still there: a choice is per kind, not all-or-nothing like -Dkvbm.backends.
        assertThat(chosen.storageProvider(StorageKind.disk(0)).name()).isEqualTo("system-disk");
        System.setProperty("kvbm.provider.system", "aaa-shm-memory");
        assertThat(withVendorJar().storageProvider(StorageKind.SYSTEM).name()).isEqualTo("aaa-shm-memory");
        assertThat(logged).anyMatch(l -> l.contains("aaa-shm-memory serves it (chosen with -Dkvbm.provider.system)"));
    }

    @Test
    void aChoiceThatCannotServeIsAnErrorNotAFallback() {
        assertThatThrownBy(() -> withVendorJar().choose(StorageKind.SYSTEM, "nope"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-Dkvbm.provider.system=nope names no selected storage provider")
                .hasMessageContaining("system-memory");
        assertThatThrownBy(() -> withVendorJar().choose(StorageKind.disk(0), "system-memory"))
                .hasMessageContaining("system-memory does not allocate disk storage");
        System.setProperty("kvbm.provider.system", "system-disk");
        assertThatThrownBy(ProviderChoiceTest::withVendorJar).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("system-disk does not allocate system storage");
        System.clearProperty("kvbm.provider.system");
        assertThatThrownBy(() -> withVendorJar().chooseExecutor(StorageKind.SYSTEM, StorageKind.device(0),
                "system-copy")).hasMessageContaining("system-copy does not copy system -> device");
    }

    @Test
    void aChosenProviderThatIsUnavailableFailsTheLookupInsteadOfFallingBack() {
        SystemStorageProvider memory = new SystemStorageProvider();
        Backends backends = Backends.asDiscovered(List.of(memory,
                        new VendorHostMemory(memory, new IllegalStateException("no shared-memory device here"))),
                List.of(new HostCopyExecutorProvider()), List.of());
        assertThat(backends.storageProvider(StorageKind.SYSTEM).name()).isEqualTo("system-memory");
        Backends chosen = backends.choose(StorageKind.SYSTEM, "aaa-shm-memory");
        assertThatThrownBy(() -> chosen.storageProvider(StorageKind.SYSTEM))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("aaa-shm-memory was chosen for it (-Dkvbm.provider.system")
                .hasMessageContaining("aaa-shm-memory is unavailable: no shared-memory device here");
    }

    @Test
    void misspelledChoicesAreErrorsThatSayWhatWouldBeRight() {
        System.setProperty("kvbm.provider.sytem", "system-memory");
        assertThatThrownBy(ProviderChoiceTest::withVendorJar).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("-Dkvbm.provider.sytem=system-memory: system-memory does not allocate sytem"
                        + " storage (it allocates [system])")
                .hasMessageContaining("one of system, pinned, device, disk or a vendor kind's name");
        System.clearProperty("kvbm.provider.sytem");
        System.setProperty("kvbm.executor.system", "system-copy");
        assertThatThrownBy(ProviderChoiceTest::withVendorJar).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("names a pair of kinds as FROM.TO");
        System.clearProperty("kvbm.executor.system");
        System.setProperty("kvbm.executor.system.disk", "system-copy");
        Backends chosen = withVendorJar();
        assertThat(chosen.executorProvider(StorageKind.SYSTEM, StorageKind.disk(0)).name()).isEqualTo("system-copy");
        assertThat(chosen.findExecutorProvider(StorageKind.SYSTEM, StorageKind.disk(0))).get()
                .extracting(p -> p.name()).isEqualTo("system-copy");
    }

    @Test
    void aVendorKindIsServedByTheProviderThatDeclaresItAndByNoOther() {
        Backends backends = withVendorJar();
        assertThat(backends.storageProvider(VendorHostMemory.SHM).name()).isEqualTo("aaa-shm-memory");
        assertThat(backends.knownKinds()).contains(VendorHostMemory.SHM);
        assertThat(new SystemStorageProvider().supports(VendorHostMemory.SHM)).isFalse();
        assertThatThrownBy(() -> new SystemStorageProvider().allocate(VendorHostMemory.SHM, 64))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("that is a vendor kind");
        // The reference executor copies any host memory, a vendor's included: it serves shm -> System.
        assertThat(backends.executorProvider(VendorHostMemory.SHM, StorageKind.SYSTEM).name()).isEqualTo("system-copy");
        assertThat(VendorHostMemory.SHM.builtIn()).isEqualTo(StorageKind.SYSTEM);
        assertThat(VendorHostMemory.SHM).hasToString("shm[System]").isNotEqualTo(StorageKind.SYSTEM);
    }
}
