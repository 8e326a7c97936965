package dev.kvbm.backend.nixl;

import dev.kvbm.api.KvbmException;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageCapabilities;
import dev.kvbm.api.spi.StorageProvider;
import org.openucx.jucx.ucp.UcpMemMapParams;
import org.openucx.jucx.ucp.UcpMemory;

import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Host memory that UCX allocates ({@code ucp_mem_map} with {@code UCP_MEM_MAP_ALLOCATE}) in the context the ucx
 * agents of this JVM share: a peer process on the same host then reaches it through UCX's shared-memory transports
 * (a mapping of the same pages, copied at memory speed) instead of a cross-process copy ({@code process_vm_readv})
 * or TCP. This is the memory {@code ucx_perftest} uses. Storage kind {@code SYSTEM}; select it by name
 * ({@code -Dkvbm.backends=ucx-host,...}, or from {@code Backends.storageProviders()}), since the system backend's
 * {@code system-memory} comes first for that kind.
 *
 * <p>Needs UCX (see {@link UcxAgentProvider}) and native access for this module, which views the memory as a
 * {@code MemorySegment} ({@code --enable-native-access=dev.kvbm.backend.nixl}). Allocations start on a page
 * boundary; a larger alignment is refused.
 */
public final class UcxHostStorageProvider implements StorageProvider {
    static final long PAGE = 4096;

    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong allocations = new AtomicLong();

    @Override
    public String name() {
        return "ucx-host";
    }

    @Override
    public String backend() {
        return "nixl";
    }

    @Override
    public Optional<Throwable> unavailabilityCause() {
        Module module = UcxHostStorageProvider.class.getModule();
        if (!module.isNativeAccessEnabled()) {
            String flag = "--enable-native-access=" + (module.isNamed() ? module.getName() : "ALL-UNNAMED");
            return Optional.of(new UnsupportedOperationException("ucx-host storage views UCX-allocated memory as a"
                    + " MemorySegment and needs native access: start the JVM with " + flag));
        }
        return new UcxAgentProvider().unavailabilityCause();
    }

    /** UCX maps whole pages, so alignment up to a page; 1 GiB at once; UCX does not promise zeroed memory. */
    @Override
    public StorageCapabilities capabilities(StorageKind kind) {
        return new StorageCapabilities(PAGE, 1L << 30, false);
    }

    @Override
    public boolean supports(StorageKind kind) {
        return kind.equals(StorageKind.SYSTEM);
    }

    @Override
    public long defaultAlignment() {
        return PAGE;
    }

    @Override
    public Storage allocate(StorageKind kind, long size, long alignment) {
        if (!supports(kind)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "ucx-host allocates System memory, not %s; ask Backends.storageProvider(kind) for a provider that"
                            + " can", kind));
        }
        if (size <= 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "cannot allocate %d bytes of System storage: size must be > 0", size));
        }
        if (alignment <= 0 || Long.bitCount(alignment) != 1 || alignment > PAGE) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "alignment %d for ucx-host storage is not allowed: a power of two up to the page size %d (UCX"
                            + " allocates whole pages)", alignment, PAGE));
        }
        ensureAvailable();
        checkRoomFor(size);
        UcpMemory memory;
        try {
            memory = UcxContexts.shared().memoryMap(new UcpMemMapParams().allocate().setLength(size));
        } catch (RuntimeException e) {
            throw new KvbmException(String.format(Locale.ROOT, "UCX could not allocate %d bytes of host memory (%d"
                    + " bytes already outstanding from this provider): %s", size, bytes.get(), e.getMessage()), e);
        }
        bytes.addAndGet(size);
        allocations.incrementAndGet();
        return new UcxHostStorage(memory, size, () -> {
            bytes.addAndGet(-size);
            allocations.decrementAndGet();
        });
    }

    /** Where UCX's shared-memory allocator keeps the pages it allocates (POSIX shared memory). */
    private static final java.nio.file.Path SHARED_MEMORY = java.nio.file.Path.of("/dev/shm");

    /**
     * Refuses a size that cannot be had before UCX sees it. UCX allocates this memory as POSIX shared memory (a file in
     * {@code /dev/shm}) and touches its pages: asked for more than that file system holds, it filled it (and the
     * host's memory) and the process died. So a size above the free space of {@code /dev/shm}, or above the host's
     * memory, fails here with a message instead.
     */
    private static void checkRoomFor(long size) {
        long free;
        try {
            free = java.nio.file.Files.getFileStore(SHARED_MEMORY).getUsableSpace();
        } catch (java.io.IOException | RuntimeException e) {
            free = Long.MAX_VALUE; // no /dev/shm: UCX then maps private memory, which the OS refuses by itself
        }
        long memory = hostMemory();
        if (size > free || size > memory) {
            throw new KvbmException(String.format(Locale.ROOT, "UCX cannot allocate %d bytes of host memory: it"
                    + " allocates it as shared memory in %s, which has %d bytes free, on a host with %d bytes of"
                    + " memory; ask for less, or give /dev/shm more room (mount -o remount,size=...)", size,
                    SHARED_MEMORY, free, memory));
        }
    }

    /** The host's memory from /proc/meminfo, or Long.MAX_VALUE where it cannot be read. */
    private static long hostMemory() {
        try (var lines = java.nio.file.Files.lines(java.nio.file.Path.of("/proc/meminfo"))) {
            return lines.filter(l -> l.startsWith("MemTotal:")).findFirst()
                    .map(l -> Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024).orElse(Long.MAX_VALUE);
        } catch (java.io.IOException | RuntimeException e) {
            return Long.MAX_VALUE;
        }
    }

    @Override
    public long bytesOutstanding() {
        return bytes.get();
    }

    @Override
    public long allocationsOutstanding() {
        return allocations.get();
    }
}
