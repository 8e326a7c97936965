package dev.kvbm.api.spi;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * A transfer between this agent's memory and a remote agent's, descriptor by descriptor: entry {@code i} of
 * {@code local} pairs with entry {@code i} of {@code remote}, and the two have the same size.
 *
 * <p>{@link Operation#READ} copies remote → local, {@link Operation#WRITE} local → remote. An optional
 * notification is delivered to the remote agent once, after the data of a WRITE (or the read of a READ) is
 * complete.
 *
 * @param operation    direction
 * @param local        descriptors in this agent's registered memory
 * @param remoteAgent  name returned by {@link Agent#loadRemoteMetadata(byte[])}
 * @param remote       descriptors in the remote agent's registered memory
 * @param notification bytes delivered to the remote agent on completion, or {@code null} for none
 */
public record AgentTransfer(Operation operation, DescriptorList local, String remoteAgent, DescriptorList remote,
                            byte[] notification) {

    /** Direction of a transfer, seen from the initiating agent. */
    public enum Operation {
        /** Remote memory → local memory. */
        READ,
        /** Local memory → remote memory. */
        WRITE
    }

    /** Checks that the lists pair up one to one with equal sizes, and copies the notification. */
    public AgentTransfer {
        Objects.requireNonNull(operation, "operation");
        Objects.requireNonNull(local, "local");
        Objects.requireNonNull(remoteAgent, "remoteAgent");
        Objects.requireNonNull(remote, "remote");
        if (local.descriptors().size() != remote.descriptors().size()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "local list has %d descriptors but remote list has %d; they pair up one to one",
                    local.descriptors().size(), remote.descriptors().size()));
        }
        for (int i = 0; i < local.descriptors().size(); i++) {
            long l = local.descriptors().get(i).region().size();
            long r = remote.descriptors().get(i).region().size();
            if (l != r) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "descriptor %d: local is %d bytes but remote is %d bytes; paired descriptors must be equal in size",
                        i, l, r));
            }
        }
        notification = notification == null ? null : notification.clone();
    }

    /** {@return the notification bytes, if any (a copy)} */
    public Optional<byte[]> notificationBytes() {
        return Optional.ofNullable(notification).map(byte[]::clone);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AgentTransfer t && operation == t.operation && local.equals(t.local)
                && remoteAgent.equals(t.remoteAgent) && remote.equals(t.remote)
                && Arrays.equals(notification, t.notification);
    }

    @Override
    public int hashCode() {
        return Objects.hash(operation, local, remoteAgent, remote, Arrays.hashCode(notification));
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "AgentTransfer[%s %d descriptors (%d bytes) %s %s%s]", operation,
                local.descriptors().size(), local.totalBytes(), operation == Operation.READ ? "from" : "to",
                remoteAgent, notification == null ? "" : ", notification " + notification.length + " bytes");
    }
}
