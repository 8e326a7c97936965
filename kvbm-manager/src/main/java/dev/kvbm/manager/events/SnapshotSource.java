package dev.kvbm.manager.events;

import java.util.concurrent.CompletableFuture;

/** Where a {@link KvIndexer} asks a worker for a snapshot of its registered blocks after it lost events. */
public interface SnapshotSource {
    /**
     * Asks {@code workerId} for its snapshot.
     *
     * @param workerId the worker
     * @return completes with the snapshot, or exceptionally when the worker does not answer (the indexer retries)
     */
    CompletableFuture<KvSnapshot> snapshot(long workerId);
}
