package dev.kvbm.backend.system;

import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.tck.AgentVerification;

/**
 * The {@code local} agent against the kit's agent rules. Its peers live in the same JVM, so it declares no remote
 * peer process and rule 3.9 is skipped with that reason.
 */
class LocalAgentConformanceTest extends AgentVerification {
    private static final StorageProvider MEMORY = new SystemStorageProvider();

    @Override
    protected AgentProvider agentProvider() {
        return new LocalAgentProvider();
    }

    @Override
    protected StorageProvider memoryProvider() {
        return MEMORY;
    }
}
