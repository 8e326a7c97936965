package dev.kvbm.api.spi;

import dev.kvbm.api.StorageKind;

/**
 * Creates {@link TransferExecutor}s for the pairs of storage kinds it supports. Found through
 * {@link java.util.ServiceLoader}; thread-safe.
 */
public interface TransferExecutorProvider extends BackendProvider {

    /** True when executors of this provider copy from {@code source} storage to {@code destination} storage. */
    boolean supports(StorageKind source, StorageKind destination);

    /** A new executor; the caller closes it. */
    TransferExecutor create();
}
