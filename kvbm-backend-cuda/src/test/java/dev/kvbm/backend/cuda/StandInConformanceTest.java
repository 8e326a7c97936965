package dev.kvbm.backend.cuda;

/**
 * The kit against the CUDA stand-in (a TEST DOUBLE: host memory behind the driver's functions, built from
 * src/test/c/cuda_standin.c). It proves the Java side of the binding conforms — marshalling, staging, completion,
 * accounting — and nothing about a GPU; {@link CudaConformanceTest} is the GPU's verification.
 */
class StandInConformanceTest extends CudaKitSuite {
    @Override
    CudaDriver.Probe driver() {
        return CudaStandIn.get().probe;
    }

    @Override
    CudaCopyExecutorProvider executors() {
        return CudaStandIn.get().executors(null);
    }
}
