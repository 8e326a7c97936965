package dev.kvbm.backend.cuda;

import dev.kvbm.api.StorageKind;
import org.junit.jupiter.api.Nested;

/**
 * The kit's storage rules (Pinned, Device) and executor rules (every pair the executor copies) for one driver; a
 * subclass says which driver ({@link CudaConformanceTest}: the real one; {@link StandInConformanceTest}: the
 * stand-in test double). What the providers promise (alignment, largest allocation) they declare themselves.
 */
abstract class CudaKitSuite {

    abstract CudaDriver.Probe driver();

    abstract CudaCopyExecutorProvider executors();

    @Nested
    class Pinned extends CudaKits.StorageKit {
        Pinned() {
            super(CudaKitSuite.this::driver, StorageKind.PINNED);
        }
    }

    @Nested
    class Device extends CudaKits.StorageKit {
        Device() {
            super(CudaKitSuite.this::driver, StorageKind.device(0));
        }
    }

    @Nested
    class PinnedToDevice extends CudaKits.ExecutorKit {
        PinnedToDevice() {
            super(CudaKitSuite.this::driver, CudaKitSuite.this::executors, StorageKind.PINNED, StorageKind.device(0));
        }
    }

    @Nested
    class DeviceToPinned extends CudaKits.ExecutorKit {
        DeviceToPinned() {
            super(CudaKitSuite.this::driver, CudaKitSuite.this::executors, StorageKind.device(0), StorageKind.PINNED);
        }
    }

    @Nested
    class DeviceToDevice extends CudaKits.ExecutorKit {
        DeviceToDevice() {
            super(CudaKitSuite.this::driver, CudaKitSuite.this::executors, StorageKind.device(0),
                    StorageKind.device(0));
        }
    }

    @Nested
    class SystemToDevice extends CudaKits.ExecutorKit {
        SystemToDevice() {
            super(CudaKitSuite.this::driver, CudaKitSuite.this::executors, StorageKind.SYSTEM, StorageKind.device(0));
        }
    }

    @Nested
    class DeviceToSystem extends CudaKits.ExecutorKit {
        DeviceToSystem() {
            super(CudaKitSuite.this::driver, CudaKitSuite.this::executors, StorageKind.device(0), StorageKind.SYSTEM);
        }
    }
}
