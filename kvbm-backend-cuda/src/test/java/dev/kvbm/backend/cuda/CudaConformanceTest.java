package dev.kvbm.backend.cuda;

/**
 * The kit against the real CUDA driver ({@code libcuda.so.1}) and a GPU: every rule is skipped with the driver
 * probe's reason where there is none (no driver, no device, a driver older than 12.0).
 */
class CudaConformanceTest extends CudaKitSuite {
    @Override
    CudaDriver.Probe driver() {
        return CudaDriver.system();
    }

    @Override
    CudaCopyExecutorProvider executors() {
        return new CudaCopyExecutorProvider(driver(), null);
    }
}
