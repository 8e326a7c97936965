package dev.kvbm.backend.cuda;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.TransferExecutor;
import dev.kvbm.api.spi.TransferExecutorProvider;

import java.util.Optional;

/**
 * Executors that copy Pinned→Device, Device→Pinned, Device→Device, and System↔Device (System staged through
 * pinned bounce buffers) with the CUDA driver. Options come from system properties: {@code kvbm.cuda.copyPath}
 * ({@code auto}, {@code each}, {@code batch}, {@code kernel}), {@code kvbm.cuda.kernelMinRegions} and
 * {@code kvbm.cuda.kernelMaxAverageBytes} (when auto picks the kernel).
 */
public final class CudaCopyExecutorProvider implements TransferExecutorProvider {
    private final CudaDriver.Probe probe;
    private final CudaCopyExecutor.Options options;

    /** The provider over the system's driver, as {@link java.util.ServiceLoader} creates it. */
    public CudaCopyExecutorProvider() {
        this(CudaDriver.system(), null);
    }

    CudaCopyExecutorProvider(CudaDriver.Probe probe, CudaCopyExecutor.Options options) {
        this.probe = probe;
        this.options = options;
    }

    @Override
    public String name() {
        return "cuda-copy";
    }

    @Override
    public String backend() {
        return "cuda";
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return probe.unavailability();
    }

    @Override
    public boolean supports(StorageKind source, StorageKind destination) {
        return CudaCopyExecutor.supportsKinds(source, destination);
    }

    @Override
    public TransferExecutor create() {
        CudaDriver driver = probe.require(name());
        return new CudaCopyExecutor(name(), driver,
                options != null ? options : CudaCopyExecutor.Options.fromSystemProperties());
    }
}
