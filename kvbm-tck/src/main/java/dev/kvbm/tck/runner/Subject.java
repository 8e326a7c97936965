package dev.kvbm.tck.runner;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.spi.TransferExecutorProvider;

import java.util.Objects;

/**
 * One thing the runner verifies: a discovered provider, with the kinds and helper providers its verification needs.
 * The verification classes of this package read the subject being run from {@link #current()}.
 *
 * @param label        how the report names it, e.g. {@code system-copy (system-memory System -> system-disk Disk(0))}
 * @param verification the verification class to run
 * @param storage      storage under test, or the source storage of an executor pair
 * @param kind         kind under test, or the source kind
 * @param destination  destination storage of an executor pair
 * @param destinationKind destination kind of an executor pair
 * @param executor     executor under test
 * @param agent        agent under test
 */
public record Subject(String label, Class<?> verification, StorageProvider storage, StorageKind kind,
                      StorageProvider destination, StorageKind destinationKind, TransferExecutorProvider executor,
                      AgentProvider agent) {

    private static volatile Subject current;

    public Subject {
        Objects.requireNonNull(label, "label");
        Objects.requireNonNull(verification, "verification");
    }

    /** The subject whose verification is running. */
    public static Subject current() {
        Subject s = current;
        if (s == null) {
            throw new IllegalStateException("no subject is being verified; run discovered verifications through"
                    + " TckRunner");
        }
        return s;
    }

    static void set(Subject subject) {
        current = subject;
    }
}
