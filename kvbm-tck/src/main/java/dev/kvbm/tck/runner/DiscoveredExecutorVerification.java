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
        return Subject.current().storage();
    }

    @Override
    protected StorageKind sourceKind() {
        return Subject.current().kind();
    }

    @Override
    protected StorageProvider destinationProvider() {
        return Subject.current().destination();
    }

    @Override
    protected StorageKind destinationKind() {
        return Subject.current().destinationKind();
    }

}
