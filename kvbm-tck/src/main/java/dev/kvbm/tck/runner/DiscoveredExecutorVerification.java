package dev.kvbm.tck.runner;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.spi.TransferExecutorProvider;
import dev.kvbm.tck.TransferExecutorVerification;

/** The executor rules, for the executor and kind pair of the {@link Subject} being run. */
public class DiscoveredExecutorVerification extends TransferExecutorVerification {
    @Override
    protected TransferExecutorProvider executorProvider() {
        return Subject.current().executor();
    }

    @Override
    protected StorageProvider sourceProvider() {
        return present(Subject.current().storage(), sourceKind());
    }

    @Override
    protected StorageKind sourceKind() {
        return Subject.current().kind();
    }

    @Override
    protected StorageProvider destinationProvider() {
        return present(Subject.current().destination(), destinationKind());
    }

    /** Skips the rule, saying why, when neither the executor's backend nor the reference allocates the kind. */
    private StorageProvider present(StorageProvider provider, StorageKind kind) {
        org.junit.jupiter.api.Assumptions.assumeTrue(provider != null, () -> executorProvider().name() + " copies "
                + kind + " storage, but neither its own backend (" + executorProvider().backend() + ") nor the"
                + " reference backend (system) allocates it; the runner verifies executors over no third party's"
                + " storage");
        return provider;
    }

    @Override
    protected StorageKind destinationKind() {
        return Subject.current().destinationKind();
    }

    /** Memory the CPU cannot reach (device memory) is written through an executor of its backend. */
    @Override
    protected void write(dev.kvbm.api.spi.Storage storage, long offset, byte[] bytes) {
        Reach.write(storage, offset, bytes);
    }

    /** Memory the CPU cannot reach (device memory) is read through an executor of its backend. */
    @Override
    protected byte[] read(dev.kvbm.api.spi.Storage storage, long offset, int length) {
        return Reach.read(storage, offset, length);
    }

}
