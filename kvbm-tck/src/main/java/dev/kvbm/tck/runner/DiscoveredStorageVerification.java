package dev.kvbm.tck.runner;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.tck.StorageVerification;

/** The storage rules, for the storage provider and kind of the {@link Subject} being run. */
public class DiscoveredStorageVerification extends StorageVerification {
    @Override
    protected StorageProvider provider() {
        return Subject.current().storage();
    }

    @Override
    protected StorageKind kind() {
        return Subject.current().kind();
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
