package dev.kvbm.manager.events;

import java.util.List;
import java.util.Objects;

/**
 * A worker's registered blocks at one moment, and the id of the last event it had published then: a consumer that
 * lost events replaces what it knows of the worker with the blocks and applies the worker's events after
 * {@code lastEventId}.
 *
 * @param workerId    the worker
 * @param instance    the run of the worker it describes (see {@link KvEvent#instance()})
 * @param lastEventId the last event id published when the snapshot was taken (0: none yet)
 * @param blocks      the registered blocks, each with its sequence hash and block hash
 */
public record KvSnapshot(long workerId, long instance, long lastEventId, List<KvEvent.StoredBlock> blocks) {
    /** Copies the list. */
    public KvSnapshot {
        blocks = List.copyOf(Objects.requireNonNull(blocks, "blocks"));
    }
}
