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
