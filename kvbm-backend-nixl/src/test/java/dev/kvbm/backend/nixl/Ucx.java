package dev.kvbm.backend.nixl;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.StorageProvider;

import java.util.Set;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.abort;

/**
 * What the tests of this module share: the provider under test, host memory from the system backend, and the rule
 * for a machine without UCX: such tests are skipped with the reason, unless {@code -Dkvbm.require=ucx} or the
 * environment variable {@code KVBM_REQUIRE=ucx} (set by {@code .ci/run}) makes that a failure.
 */
final class Ucx {
    static final UcxAgentProvider PROVIDER = new UcxAgentProvider();
    static final StorageProvider MEMORY = Backends.load(Ucx.class.getClassLoader(), Set.of("system-memory"))
            .storageProvider(StorageKind.SYSTEM);

    private Ucx() {
    }

    /** Skips the calling test (or fails it, under {@code -Dkvbm.require=ucx}) when UCX cannot be used here. */
    static void assumeAvailable() {
        PROVIDER.unavailabilityCause().ifPresent(cause -> {
            String reason = "UCX is not usable on this machine: " + cause.getMessage();
            if (required()) {
                fail(reason + " (and -Dkvbm.require=ucx says it must be)");
            }
            abort(reason);
        });
    }

    static boolean required() {
        String value = System.getProperty("kvbm.require", "") + "," + System.getenv().getOrDefault("KVBM_REQUIRE", "");
        return Set.of(value.split(",")).contains("ucx");
    }
}
