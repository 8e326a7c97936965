package dev.kvbm.api.spi;

import dev.kvbm.api.StorageKind;

/**
 * Creates {@link TransferExecutor}s for the pairs of storage kinds it supports. Found through
 * {@link java.util.ServiceLoader}; thread-safe.
 */
public interface TransferExecutorProvider extends BackendProvider {

    /**
     * Tests whether this provider's executors copy between two kinds.
     *
     * @param source      the kind copied from
     * @param destination the kind copied to
     * @return true when executors of this provider copy from {@code source} storage to {@code destination} storage
     */
    boolean supports(StorageKind source, StorageKind destination);

    /** {@return a new executor; the caller closes it} */
    TransferExecutor create();
}
