package dev.kvbm.api.spi;

import java.util.Arrays;
import java.util.Objects;

/**
 * Bytes a remote agent attached to a transfer that completed, as received by this agent.
 *
 * @param fromAgent name of the agent that sent it
 * @param payload   the bytes (a copy is kept and returned)
 */
public record Notification(String fromAgent, byte[] payload) {

    /** Copies the payload. */
    public Notification {
        Objects.requireNonNull(fromAgent, "fromAgent");
        payload = payload.clone();
    }

    /** {@return the bytes (a copy)} */
    @Override
    public byte[] payload() {
        return payload.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Notification n && fromAgent.equals(n.fromAgent) && Arrays.equals(payload, n.payload);
    }

    @Override
    public int hashCode() {
        return 31 * fromAgent.hashCode() + Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
        return "Notification[from " + fromAgent + ", " + payload.length + " bytes]";
    }
}
