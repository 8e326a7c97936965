package dev.kvbm.backend.cuda;

import dev.kvbm.api.StorageKind;
import org.junit.jupiter.api.Nested;

/**
 * The kit against the real CUDA driver ({@code libcuda.so.1}) and a GPU: every rule is skipped with the driver
 * probe's reason where there is none (no driver, no device, a driver older than 12.0).
 */
class CudaConformanceTest {
    private static CudaDriver.Probe driver() {
        return CudaDriver.system();
    }

    private static CudaCopyExecutorProvider executors() {
        return new CudaCopyExecutorProvider(driver(), null);
    }

    @Nested
    class Pinned extends CudaKits.StorageKit {
        Pinned() {
            super(CudaConformanceTest::driver, StorageKind.PINNED, 1L << 30);
        }
    }

    @Nested
    class Device extends CudaKits.StorageKit {
        Device() {
            super(CudaConformanceTest::driver, StorageKind.device(0), 4L << 30);
        }
    }

    @Nested
    class PinnedToDevice extends CudaKits.ExecutorKit {
        PinnedToDevice() {
            super(CudaConformanceTest::driver, CudaConformanceTest::executors, StorageKind.PINNED,
                    StorageKind.device(0));
        }
    }

    @Nested
    class DeviceToPinned extends CudaKits.ExecutorKit {
        DeviceToPinned() {
            super(CudaConformanceTest::driver, CudaConformanceTest::executors, StorageKind.device(0),
                    StorageKind.PINNED);
        }
    }

    @Nested
    class DeviceToDevice extends CudaKits.ExecutorKit {
        DeviceToDevice() {
            super(CudaConformanceTest::driver, CudaConformanceTest::executors, StorageKind.device(0),
                    StorageKind.device(0));
        }
    }

    @Nested
    class SystemToDevice extends CudaKits.ExecutorKit {
        SystemToDevice() {
            super(CudaConformanceTest::driver, CudaConformanceTest::executors, StorageKind.SYSTEM,
                    StorageKind.device(0));
        }
    }

    @Nested
    class DeviceToSystem extends CudaKits.ExecutorKit {
        DeviceToSystem() {
            super(CudaConformanceTest::driver, CudaConformanceTest::executors, StorageKind.device(0),
                    StorageKind.SYSTEM);
        }
    }
}
