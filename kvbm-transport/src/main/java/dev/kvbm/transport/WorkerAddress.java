package dev.kvbm.transport;

import java.util.Objects;

/**
 * A worker and the name of its transfer agent.
 *
 * @param workerId       the worker (an unsigned 64-bit value)
 * @param nixlAgentName  its agent's name, as that agent reports it
 */
public record WorkerAddress(long workerId, String nixlAgentName) {

    /** Checks the agent name is present. */
    public WorkerAddress {
        Objects.requireNonNull(nixlAgentName, "nixlAgentName");
    }
}
