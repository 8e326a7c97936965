package dev.kvbm.api.spi;

import dev.kvbm.api.StorageKind;

import java.util.concurrent.CompletableFuture;

/**
 * Copies the pairs of a {@link TransferBatch} between two local storages, off the caller's thread.
 *
 * <p>The returned future completes normally only when every byte of every pair has landed, and exceptionally
 * with the cause when any copy fails; bytes outside the destination regions are never written. Batches may be
 * submitted from any thread. {@link #close()} waits for batches already submitted and then releases the
 * executor's threads; {@link #execute} after close throws {@link IllegalStateException}.
 */
public interface TransferExecutor extends AutoCloseable {

    /** {@return the provider's name, for messages} */
    String name();

    /**
     * Tests whether this executor copies between two kinds.
     *
     * @param source      the kind copied from
     * @param destination the kind copied to
     * @return true when this executor copies from {@code source} storage to {@code destination} storage
     */
    boolean supports(StorageKind source, StorageKind destination);

    /**
     * Starts copying {@code batch}.
     *
     * @param batch the copies, validated at construction
     * @return completes when every byte has landed, exceptionally when a copy failed
     * @throws IllegalArgumentException when the batch's storage kinds are not supported
     * @throws IllegalStateException    when the executor is closed
     */
    CompletableFuture<Void> execute(TransferBatch batch);

    @Override
    void close();
}
