package dev.kvbm.backend.cuda;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageAccounting;
import dev.kvbm.api.spi.StorageCapabilities;
import dev.kvbm.api.spi.StorageProvider;

import java.lang.foreign.MemorySegment;
import java.util.Objects;
import java.util.Optional;

/**
 * {@link StorageKind#PINNED} host memory from {@code cuMemHostAlloc}: portable (usable from every device's
 * context) and mapped into the unified address space, so both DMA copies and the copy kernel reach it; page-aligned.
 * Write-combined memory (fast for the CPU to write and the GPU to read, slow for the CPU to read) is an option:
 * {@code -Dkvbm.cuda.pinned.writeCombined=true} or {@link #writeCombined()}. {@link #pin} page-locks memory that
 * was allocated elsewhere ({@code cuMemHostRegister}).
 */
public final class CudaPinnedStorageProvider implements StorageProvider {
    /** cuMemHostAlloc returns page-aligned memory. */
    static final long PAGE = 4096;

    private final CudaDriver.Probe probe;
    private final boolean writeCombined;
    private final StorageAccounting accounting = new StorageAccounting();

    /** The provider over the system's driver, as {@link java.util.ServiceLoader} creates it. */
    public CudaPinnedStorageProvider() {
        this(CudaDriver.system(), Boolean.getBoolean("kvbm.cuda.pinned.writeCombined"));
    }

    CudaPinnedStorageProvider(CudaDriver.Probe probe, boolean writeCombined) {
        this.probe = probe;
        this.writeCombined = writeCombined;
    }

    /** {@return a provider over the same driver whose memory is write-combined, with its own accounting} */
    public CudaPinnedStorageProvider writeCombined() {
        return new CudaPinnedStorageProvider(probe, true);
    }

    @Override
    public String name() {
        return "cuda-pinned";
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
    public boolean supports(StorageKind kind) {
        return kind.equals(StorageKind.PINNED);
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
        return PAGE;
    }

    @Override
    public Storage allocate(StorageKind kind, long size, long alignment) {
        CudaStorageProviders.checkRequest(name(), kind, supports(kind), size, alignment);
        CudaDriver driver = probe.require(name());
        int flags = CudaDriver.MEMHOSTALLOC_PORTABLE | CudaDriver.MEMHOSTALLOC_DEVICEMAP
                | (writeCombined ? CudaDriver.MEMHOSTALLOC_WRITECOMBINED : 0);
        long bytes = CudaStorageProviders.padded(kind, size, alignment, PAGE);
        driver.makeCurrent(0);
        long base = driver.memHostAlloc(bytes, flags);
        long start = CudaStorageProviders.alignUp(base, alignment);
        Runnable free = () -> {
            driver.makeCurrent(0);
            driver.memFreeHost(base);
        };
        CudaStorage storage;
        try {
            storage = new CudaStorage.Pinned(new MemoryRegion(start, size), accounting, free);
        } catch (RuntimeException | Error e) {
            free.run(); // never leak the pinned memory when its view cannot be made
            throw e;
        }
        accounting.allocated(size);
        return storage;
    }

    /**
     * Page-locks host memory allocated elsewhere ({@code cuMemHostRegister}, portable and mapped) and returns it
     * as Pinned storage; closing it unlocks the memory (it does not free it). The caller keeps {@code memory}
     * alive until then.
     *
     * @param memory native host memory, page-aligned and a whole number of pages for the widest driver support
     * @return the pinned view; the caller closes it
     */
    public HostStorage pin(MemorySegment memory) {
        Objects.requireNonNull(memory, "memory");
        if (!memory.isNative() || memory.byteSize() == 0) {
            throw new IllegalArgumentException("only non-empty native memory can be pinned, got " + memory);
        }
        if (!memory.scope().isAlive()) {
            throw new IllegalArgumentException("memory " + memory + " was already freed (its arena is closed);"
                    + " pin memory while its owner keeps it allocated");
        }
        CudaDriver driver = probe.require(name());
        long address = memory.address();
        long size = memory.byteSize();
        driver.makeCurrent(0);
        driver.memHostRegister(address, size,
                CudaDriver.MEMHOSTREGISTER_PORTABLE | CudaDriver.MEMHOSTREGISTER_DEVICEMAP);
        Runnable unpin = () -> {
            driver.makeCurrent(0);
            driver.memHostUnregister(address);
        };
        CudaStorage.Pinned storage;
        try {
            storage = new CudaStorage.Pinned(new MemoryRegion(address, size), accounting, unpin);
        } catch (RuntimeException | Error e) {
            unpin.run();
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
