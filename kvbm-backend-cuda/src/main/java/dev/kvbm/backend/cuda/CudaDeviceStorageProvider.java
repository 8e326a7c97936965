package dev.kvbm.backend.cuda;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageAccounting;
import dev.kvbm.api.spi.StorageCapabilities;
import dev.kvbm.api.spi.StorageProvider;

import java.util.Locale;
import java.util.Optional;

/**
 * GPU memory ({@link StorageKind#device(int)}) from {@code cuMemAlloc}, in the device's primary context. The CPU
 * cannot reach it: its bytes move through {@link CudaCopyExecutorProvider}'s executors (or an agent that registers
 * VRAM). {@code cuMemAlloc} aligns to at least 256 bytes; larger alignments are honoured by allocating more.
 */
public final class CudaDeviceStorageProvider implements StorageProvider {
    static final long DRIVER_ALIGNMENT = 256;

    private final CudaDriver.Probe probe;
    private final StorageAccounting accounting = new StorageAccounting();
    private volatile int devices = -1;

    /** The provider over the system's driver, as {@link java.util.ServiceLoader} creates it. */
    public CudaDeviceStorageProvider() {
        this(CudaDriver.system());
    }

    CudaDeviceStorageProvider(CudaDriver.Probe probe) {
        this.probe = probe;
    }

    @Override
    public String name() {
        return "cuda-device";
    }

    @Override
    public String backend() {
        return "cuda";
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        return probe.unavailability();
    }

    private int devices() {
        int n = devices;
        if (n < 0) {
            n = probe.driver() == null ? 0 : probe.driver().deviceCount();
            devices = n;
        }
        return n;
    }

    @Override
    public boolean supports(StorageKind kind) {
        return kind.type() == StorageKind.Type.DEVICE && !kind.isVendor() && probe.driver() != null && kind.id() < devices();
    }

    /**
     * Alignment up to 64 KiB (the driver aligns to 256 bytes; larger alignments are padded), 1 GiB at once; the
     * driver does not zero new memory.
     */
    @Override
    public StorageCapabilities capabilities(StorageKind kind) {
        return CudaStorageProviders.CAPABILITIES;
    }

    @Override
    public long defaultAlignment() {
        return DRIVER_ALIGNMENT;
    }

    @Override
    public Storage allocate(StorageKind kind, long size, long alignment) {
        if (kind.type() == StorageKind.Type.DEVICE) {
            probe.require(name()); // unavailable here: say why, not that the kind is unsupported
        }
        if (kind.type() == StorageKind.Type.DEVICE && kind.id() >= devices()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "there is no CUDA device %d: the driver sees %d device(s), ordinals 0..%d", kind.id(), devices(),
                    devices() - 1));
        }
        CudaStorageProviders.checkRequest(name(), kind, supports(kind), size, alignment);
        CudaDriver driver = probe.require(name());
        int device = kind.deviceId();
        driver.makeCurrent(device);
        long base = driver.memAlloc(CudaStorageProviders.padded(kind, size, alignment, DRIVER_ALIGNMENT));
        long start = CudaStorageProviders.alignUp(base, alignment);
        Runnable free = () -> {
            driver.makeCurrent(device);
            driver.memFree(base);
        };
        CudaStorage storage;
        try {
            storage = new CudaStorage.Device(device, new MemoryRegion(start, size), accounting, free);
        } catch (RuntimeException | Error e) {
            free.run();
            throw e;
        }
        accounting.allocated(size);
        return storage;
    }

    @Override
    public long bytesOutstanding() {
        return accounting.bytes();
    }

    @Override
    public long allocationsOutstanding() {
        return accounting.allocations();
    }
}
