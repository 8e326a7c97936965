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
}
