package dev.kvbm.backend.system;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.TransferExecutor;
import dev.kvbm.api.spi.TransferExecutorProvider;

import java.util.Optional;

/**
 * Copies between host storages (System and Pinned, both CPU-addressable) and between host and disk storage.
 * Executors run batches on {@value #THREADS_PROPERTY} daemon threads (default 2).
 */
public final class HostCopyExecutorProvider implements TransferExecutorProvider {

    /** System property: threads per executor. */
    public static final String THREADS_PROPERTY = "kvbm.copy.threads";

    @Override
    public String name() {
        return "system-copy";
    }

    @Override
    public String backend() {
        return "system";
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return Optional.empty();
    }

    @Override
    public boolean supports(StorageKind source, StorageKind destination) {
        return HostCopyExecutor.supportsKinds(source, destination);
    }

    @Override
    public TransferExecutor create() {
        return new HostCopyExecutor(name(), Integer.getInteger(THREADS_PROPERTY, 2));
    }
}
