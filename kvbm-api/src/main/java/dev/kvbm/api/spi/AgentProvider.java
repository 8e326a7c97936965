package dev.kvbm.api.spi;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * Creates {@link Agent}s of one transport (in-process, UCX, ...). Found through {@link java.util.ServiceLoader};
 * thread-safe.
 */
public interface AgentProvider extends BackendProvider {

    /**
     * Creates an agent.
     *
     * @param agentName the agent's name, unique among the agents that talk to each other
     * @param options   the peer timeout and transport-specific settings
     * @return a new agent; the caller closes it
     */
    Agent create(String agentName, Options options);

    /**
     * Whether this provider's agents reach peers in other processes (and hosts). A worker that is not told which
     * agent to use prefers such a provider to one whose peers must share its JVM.
     *
     * @return true by default; false for an agent whose peers live in the same process
     */
    default boolean reachesOtherProcesses() {
        return true;
    }

    /**
     * Settings of a new agent.
     *
     * @param peerTimeout how long a transfer may wait on a silent peer before its future fails
     * @param properties  transport-specific settings, e.g. which network devices to use
     */
    record Options(Duration peerTimeout, Map<String, String> properties) {

        /** 30 seconds to a dead peer, no transport settings. */
        public static final Options DEFAULT = new Options(Duration.ofSeconds(30), Map.of());

        /** Checks that the timeout is positive and copies the properties. */
        public Options {
            Objects.requireNonNull(peerTimeout, "peerTimeout");
            if (peerTimeout.isNegative() || peerTimeout.isZero()) {
                throw new IllegalArgumentException("peerTimeout must be positive, got " + peerTimeout);
            }
            properties = Map.copyOf(properties);
        }

        /** Shows the settings, with the value of any whose key names a secret left out. */
        @Override
        public String toString() {
            java.util.Map<String, String> shown = new java.util.TreeMap<>();
            properties.forEach((k, v) -> shown.put(k, k.toLowerCase(java.util.Locale.ROOT).contains("secret")
                    ? "(not shown)" : v));
            return "Options[peerTimeout=" + peerTimeout + ", properties=" + shown + "]";
        }
    }
}
