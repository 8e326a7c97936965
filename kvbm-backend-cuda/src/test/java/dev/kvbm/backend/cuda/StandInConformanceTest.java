package dev.kvbm.backend.cuda;

import dev.kvbm.api.StorageKind;
import org.junit.jupiter.api.Nested;

/**
 * The kit against the CUDA stand-in (a TEST DOUBLE: host memory behind the driver's functions, built from
 * src/test/c/cuda_standin.c). It proves the Java side of the binding conforms — marshalling, staging, completion,
 * accounting — and nothing about a GPU; {@link CudaConformanceTest} is the GPU's verification.
 */
class StandInConformanceTest {
    private static CudaDriver.Probe driver() {
        return CudaStandIn.get().probe;
    }

    private static CudaCopyExecutorProvider executors() {
        return CudaStandIn.get().executors(null);
    }

    @Nested
    class Pinned extends CudaKits.StorageKit {
        Pinned() {
            super(StandInConformanceTest::driver, StorageKind.PINNED, 0);
        }
    }

    @Nested
    class Device extends CudaKits.StorageKit {
        Device() {
            super(StandInConformanceTest::driver, StorageKind.device(0), 0);
        }
    }

    @Nested
    class PinnedToDevice extends CudaKits.ExecutorKit {
        PinnedToDevice() {
            super(StandInConformanceTest::driver, StandInConformanceTest::executors, StorageKind.PINNED,
                    StorageKind.device(0));
        }
    }

    @Nested
    class DeviceToPinned extends CudaKits.ExecutorKit {
        DeviceToPinned() {
            super(StandInConformanceTest::driver, StandInConformanceTest::executors, StorageKind.device(0),
                    StorageKind.PINNED);
        }
    }

    @Nested
    class DeviceToDevice extends CudaKits.ExecutorKit {
        DeviceToDevice() {
            super(StandInConformanceTest::driver, StandInConformanceTest::executors, StorageKind.device(0),
                    StorageKind.device(0));
        }
    }

    @Nested
    class SystemToDevice extends CudaKits.ExecutorKit {
        SystemToDevice() {
            super(StandInConformanceTest::driver, StandInConformanceTest::executors, StorageKind.SYSTEM,
                    StorageKind.device(0));
        }
    }

    @Nested
    class DeviceToSystem extends CudaKits.ExecutorKit {
        DeviceToSystem() {
            super(StandInConformanceTest::driver, StandInConformanceTest::executors, StorageKind.device(0),
                    StorageKind.SYSTEM);
        }
    }
}
