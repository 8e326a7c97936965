package dev.kvbm.api.spi;

import java.util.List;

/**
 * A connection to a worker registry (see {@link DiscoveryProvider}). Thread-safe. Entries read from the registry
 * come from other processes and are untrusted: an implementation checks them, and counts and drops (with a logged
 * reason) any it cannot read, never failing a caller or a listener because of one.
 */
public interface Discovery extends AutoCloseable {

    /**
     * Publishes this worker's entry, replacing one it published before under the same worker id, and keeps it
     * alive until the registration or the connection is closed. A worker that dies stops renewing it, and it
     * disappears within the TTL.
     *
     * @param entry what to publish
     * @return the registration, to update or withdraw it
     * @throws IllegalStateException when another live worker holds the id, or the connection is closed
     */
    Registration register(WorkerEntry entry);

    /** {@return the workers registered now, this one included, ordered by worker id} */
    List<WorkerEntry> workers();

    /**
     * Reports every worker present now as {@link Listener#joined}, then every change, on a thread of the
     * implementation, in order, until the watch is closed. Changes missed while the registry was unreachable are
     * reported once it is back (an entry gone meanwhile as {@link Listener#left}).
     *
     * @param listener called for each change; an exception it throws is logged and does not stop the watch
     * @return the watch; close it to stop
     */
    Watch watch(Listener listener);

    /** {@return entries read from the registry and dropped as malformed, since connecting} */
    long malformedEntries();

    /** Withdraws every registration of this connection and stops its watches. Idempotent. */
    @Override
    void close();

    /**
     * A worker as the registry holds it.
     *
     * @param workerId the worker's id, unique in the namespace (an unsigned 64-bit value)
     * @param name     a name for people and logs, e.g. the agent's name
     * @param metadata what the worker publishes, e.g. its transport manager's exported metadata; copied
     */
    record WorkerEntry(long workerId, String name, byte[] metadata) {
        /** The largest metadata accepted, 16 MiB: a registry is not a blob store. */
        public static final int MAX_METADATA = 16 << 20;

        /** Checks the name and the metadata's size. */
        public WorkerEntry {
            java.util.Objects.requireNonNull(name, "name");
            java.util.Objects.requireNonNull(metadata, "metadata");
            if (name.isEmpty() || name.length() > 256 || name.chars().anyMatch(Character::isISOControl)) {
                throw new IllegalArgumentException("worker name must be 1 to 256 printable characters, got '"
                        + name.replaceAll("\\p{Cntrl}", "?") + "'");
            }
            if (metadata.length > MAX_METADATA) {
                throw new IllegalArgumentException("worker metadata of " + metadata.length
                        + " bytes exceeds the registry's limit of " + MAX_METADATA);
            }
            metadata = metadata.clone();
        }

        /** {@return a copy of the published metadata} */
        @Override
        public byte[] metadata() {
            return metadata.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof WorkerEntry e && e.workerId == workerId && e.name.equals(name)
                    && java.util.Arrays.equals(e.metadata, metadata);
        }

        @Override
        public int hashCode() {
            return Long.hashCode(workerId) * 31 + java.util.Arrays.hashCode(metadata);
        }

        @Override
        public String toString() {
            return "worker " + Long.toUnsignedString(workerId) + " (" + name + ", " + metadata.length + " bytes)";
        }
    }

    /** A published entry, kept alive until closed. */
    interface Registration extends AutoCloseable {
        /**
         * Replaces the published metadata (e.g. after registering another layout); watchers see a change.
         *
         * @param metadata the new metadata
         */
        void update(byte[] metadata);

        /** Withdraws the entry: watchers see the worker leave. Idempotent. */
        @Override
        void close();
    }

    /** Receives the registry's changes. */
    interface Listener {
        /**
         * A worker appeared (or was present when the watch started).
         *
         * @param entry its entry
         */
        void joined(WorkerEntry entry);

        /**
         * A present worker published new metadata.
         *
         * @param entry its new entry
         */
        void changed(WorkerEntry entry);

        /**
         * A worker's entry disappeared: withdrawn, or expired because the worker stopped renewing it.
         *
         * @param entry its last entry
         */
        void left(WorkerEntry entry);
    }

    /** A running watch. */
    interface Watch extends AutoCloseable {
        /** Stops the watch; no call to the listener starts after it returns. Idempotent. */
        @Override
        void close();
    }
}
