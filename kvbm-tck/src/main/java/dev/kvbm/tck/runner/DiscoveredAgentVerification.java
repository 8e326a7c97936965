package dev.kvbm.tck.runner;

import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.tck.AgentVerification;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The agent rules, for the agent provider of the {@link Subject} being run, over discovered System memory. */
public class DiscoveredAgentVerification extends AgentVerification {
    @Override
    protected AgentProvider agentProvider() {
        return Subject.current().agent();
    }

    @Override
    protected StorageProvider memoryProvider() {
        StorageProvider memory = Subject.current().storage();
        assumeTrue(memory != null, "no available storage provider allocates System memory for the agents");
        return memory;
    }
}
