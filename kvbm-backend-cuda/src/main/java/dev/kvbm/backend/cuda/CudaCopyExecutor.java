package dev.kvbm.backend.cuda;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Lifetime;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Copies Pinned→Device, Device→Pinned, Device→Device and System↔Device with the CUDA driver, asynchronously.
 *
 * <ul>
 *   <li><b>Streams.</b> Each device gets its own non-blocking streams for host→device, device→host and
 *       device→device copies, so an offload and an onboard overlap instead of queueing behind each other.</li>
 *   <li><b>Paths.</b> A batch's pairs are coalesced first. Then one of three paths copies them, picked per batch
 *       ({@link Path}): one {@code cuMemcpyAsync} per region; one {@code cuMemcpyBatchAsync} call for all (CUDA 12.8+
 *       drivers); or the copy kernel ({@code kvbm_copy_regions}, shipped as PTX and JIT-compiled by the driver),
 *       which copies a whole list of regions in one launch. The kernel is picked for many small regions, the batch
 *       call otherwise; {@code -Dkvbm.cuda.copyPath=each|batch|kernel} forces one.</li>
 *   <li><b>System memory</b> is never handed to a DMA copy (that would block on pageable memory): it is staged
 *       through two pinned bounce buffers on a staging thread, one filling while the other is copied.</li>
 *   <li><b>Completion.</b> Every submission records an event on its stream; one completion thread polls the
 *       events and completes the futures (dependent stages that block should use the {@code *Async} variants).
 *       Both storages stay leased until the event completed, so a storage closed mid-copy is freed only after the
 *       device stopped touching it.</li>
 * </ul>
 */
final class CudaCopyExecutor implements TransferExecutor {
    private static final System.Logger LOG = System.getLogger(CudaCopyExecutor.class.getName());
    private static final AtomicInteger EXECUTORS = new AtomicInteger();
    private static final String KERNEL = "kvbm_copy_regions";
    /** Regions per kernel launch: one descriptor buffer of 24-byte regions. */
    static final int KERNEL_REGIONS_PER_LAUNCH = 16384;
    private static final long KERNEL_REGION_BYTES = 24;
    private static final int KERNEL_THREADS = 256;
    private static final int KERNEL_MAX_BLOCKS = 1024;

    /** How a batch's regions reach the driver. */
    enum Path {
        /** One {@code cuMemcpyAsync} per region. */
        EACH,
        /** One {@code cuMemcpyBatchAsync} for all regions. */
        BATCH,
        /** One launch of the copy kernel per {@value #KERNEL_REGIONS_PER_LAUNCH} regions. */
        KERNEL
    }

    /**
     * When the kernel is chosen (auto mode): at least {@code kernelMinRegions} regions averaging at most
     * {@code kernelMaxAverageBytes}. Provisional until measured on a GPU (see docs/performance.md).
     */
    record Options(Path forced, int kernelMinRegions, long kernelMaxAverageBytes, long stageBytes) {
        static Options fromSystemProperties() {
            String path = System.getProperty("kvbm.cuda.copyPath", "auto").trim().toLowerCase(Locale.ROOT);
            Path forced = switch (path) {
                case "auto" -> null;
                case "each" -> Path.EACH;
                case "batch" -> Path.BATCH;
                case "kernel" -> Path.KERNEL;
                default -> throw new IllegalArgumentException("-Dkvbm.cuda.copyPath=" + path
                        + " is not a copy path; use auto, each, batch or kernel");
            };
            return new Options(forced, Integer.getInteger("kvbm.cuda.kernelMinRegions", 64),
                    Long.getLong("kvbm.cuda.kernelMaxAverageBytes", 256 * 1024), 8L << 20);
        }
    }

    private final String name;
    private final CudaDriver driver;
    private final Options options;
    private final ReentrantLock lock = new ReentrantLock(); // guards submissions, devices, events, buffers
    private final Condition work = lock.newCondition();
    /** Submissions handed to the completion thread, which moves them to its own list of those it polls. */
    private final List<Pending> submitted = new ArrayList<>();
    private final Map<Integer, DeviceState> devices = new HashMap<>();
    private final ArrayDeque<Long> descriptorBuffers = new ArrayDeque<>();
    private final List<Long> allDescriptorBuffers = new ArrayList<>();
    private final Thread completion;
    private final ExecutorService staging;
    private final AtomicLong kernelLaunches = new AtomicLong();
    private final AtomicLong batchCalls = new AtomicLong();
    private final AtomicLong singleCopies = new AtomicLong();
    private long[] stageBuffers; // two pinned bounce buffers, allocated on the first System batch
    private volatile boolean closing;
    private volatile Thread stagingThread;
    private boolean cleanedUp;

    CudaCopyExecutor(String name, CudaDriver driver, Options options) {
        this.name = name;
        this.driver = driver;
        this.options = options;
        int id = EXECUTORS.incrementAndGet();
        this.completion = Thread.ofPlatform().daemon().name("kvbm-cuda-completion-" + id).unstarted(this::complete);
        this.staging = Executors.newSingleThreadExecutor(r -> {
            Thread t = Thread.ofPlatform().daemon().name("kvbm-cuda-staging-" + id).unstarted(r);
            stagingThread = t;
            return t;
        });
        completion.start();
    }

    static boolean supportsKinds(StorageKind source, StorageKind destination) {
        // A vendor's device kind is another accelerator's memory, which this executor cannot reach.
        if ((source.isVendor() && !source.isHostAccessible()) || (destination.isVendor() && !destination.isHostAccessible())) {
            return false;
        }
        boolean srcDevice = source.type() == StorageKind.Type.DEVICE;
        boolean dstDevice = destination.type() == StorageKind.Type.DEVICE;
        return (srcDevice && (dstDevice || destination.isHostAccessible()))
                || (dstDevice && source.isHostAccessible());
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public boolean supports(StorageKind source, StorageKind destination) {
        return supportsKinds(source, destination);
    }

    /** {@return launches, batch calls and single copies so far, for tests and benchmarks} */
    long[] pathCounts() {
        return new long[] {kernelLaunches.get(), batchCalls.get(), singleCopies.get()};
    }

    @Override
    public CompletableFuture<Void> execute(TransferBatch batch) {
        if (closing) {
            throw new IllegalStateException("executor " + name + " is closed");
        }
        Storage src = batch.source();
        Storage dst = batch.destination();
        if (!supports(src.kind(), dst.kind())) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s copies Pinned/System<->Device and Device<->Device, not %s -> %s; host<->host and"
                            + " host<->disk copies are the system backend's", name, src.kind(), dst.kind()));
        }
        boolean srcDevice = src.kind().type() == StorageKind.Type.DEVICE;
        boolean dstDevice = dst.kind().type() == StorageKind.Type.DEVICE;
        if ((!srcDevice && !(src instanceof HostStorage)) || (!dstDevice && !(dst instanceof HostStorage))) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s: host storage must implement HostStorage, got %s and %s", name,
                    src.getClass().getName(), dst.getClass().getName()));
        }
        if ((srcDevice && !(src instanceof CudaStorage.Device)) || (dstDevice && !(dst instanceof CudaStorage.Device))) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s copies device memory allocated by cuda-device only, got %s and %s", name, src, dst));
        }
        Leases leases;
        try {
            leases = Leases.of(src, dst);
        } catch (IllegalStateException e) {
            return CompletableFuture.failedFuture(e);
        }
        List<RegionPair> pairs = batch.coalesced();
        if (pairs.isEmpty()) {
            leases.close();
            return CompletableFuture.completedFuture(null);
        }
        int device = srcDevice ? src.kind().deviceId() : dst.kind().deviceId();
        // Host memory the device can reach directly is ours (cuMemHostAlloc'd, mapped); anything else is staged.
        boolean srcStaged = !srcDevice && !(src instanceof CudaStorage.Pinned);
        boolean dstStaged = !dstDevice && !(dst instanceof CudaStorage.Pinned);
        CompletableFuture<Void> future = new CompletableFuture<>();
        if (srcStaged || dstStaged) {
            try {
                staging.execute(() -> staged(device, (HostStorage) (srcStaged ? src : dst), srcStaged, src, dst, pairs,
                        leases, future));
            } catch (RejectedExecutionException e) {
                leases.close();
                throw new IllegalStateException("executor " + name + " is closed", e);
            }
            return future;
        }
        submitDirect(device, srcDevice, dstDevice, pairs, leases, future);
        return future;
    }

    /** Enqueues the copies on the right stream, records the completion event, hands it to the completion thread. */
    private void submitDirect(int device, boolean srcDevice, boolean dstDevice, List<RegionPair> pairs,
                              Leases leases, CompletableFuture<Void> future) {
        lock.lock();
        try {
            if (closing) {
                leases.close();
                future.completeExceptionally(new IllegalStateException("executor " + name + " is closed"));
                return;
            }
            DeviceState state = deviceState(device);
            MemorySegment stream = srcDevice && dstDevice ? state.d2d : dstDevice ? state.h2d : state.d2h;
            List<Long> buffers = new ArrayList<>(0);
            CudaException enqueueError = null;
            try {
                enqueue(state, stream, pairs, buffers);
            } catch (CudaException e) {
                enqueueError = e; // copies enqueued before it still run: wait for them before releasing anything
            }
            MemorySegment event = null;
            try {
                event = state.event();
                driver.eventRecord(event, stream);
            } catch (CudaException e) {
                if (event != null) {
                    driver.eventDestroy(event);
                }
                driver.streamSynchronize(stream); // no event to wait for: wait for the stream itself
                buffers.forEach(descriptorBuffers::push);
                leases.close();
                future.completeExceptionally(enqueueError != null ? enqueueError : e);
                return;
            }
            submitted.add(new Pending(state, event, future, leases, buffers, enqueueError));
            work.signal();
        } catch (RuntimeException e) {
            leases.close();
            future.completeExceptionally(e);
        } finally {
            lock.unlock();
        }
    }

    /** The caller holds the lock and has made the device's context current. */
    private void enqueue(DeviceState state, MemorySegment stream, List<RegionPair> pairs, List<Long> buffers) {
        switch (choose(state, pairs)) {
            case EACH -> {
                for (int i = 0; i < pairs.size(); i++) {
                    RegionPair p = pairs.get(i);
                    int r = driver.memcpyAsync(p.destination().address(), p.source().address(), p.source().size(),
                            stream);
                    if (r != CudaDriver.SUCCESS) {
                        throw driver.failure(r, "cuMemcpyAsync", String.format(Locale.ROOT,
                                "pair %d of %d: dst=0x%x, src=0x%x, bytes=%d", i, pairs.size(),
                                p.destination().address(), p.source().address(), p.source().size()));
                    }
                    singleCopies.incrementAndGet();
                }
            }
            case BATCH -> batch(stream, pairs);
            case KERNEL -> {
                for (int from = 0; from < pairs.size(); from += KERNEL_REGIONS_PER_LAUNCH) {
                    int to = Math.min(pairs.size(), from + KERNEL_REGIONS_PER_LAUNCH);
                    long buffer = descriptorBuffer();
                    buffers.add(buffer);
                    launch(state, stream, pairs.subList(from, to), buffer);
                }
            }
        }
    }

    private Path choose(DeviceState state, List<RegionPair> pairs) {
        if (options.forced() != null) {
            if (options.forced() == Path.KERNEL && state.kernel == null) {
                throw new IllegalStateException("-Dkvbm.cuda.copyPath=kernel, but the copy kernel could not be"
                        + " loaded on device " + state.device + ": " + state.kernelProblem);
            }
            if (options.forced() == Path.BATCH && !driver.hasBatchCopy()) {
                throw new IllegalStateException("-Dkvbm.cuda.copyPath=batch, but CUDA driver "
                        + CudaDriver.versionString(driver.version()) + " has no cuMemcpyBatchAsync (12.8+)");
            }
            return options.forced();
        }
        if (pairs.size() == 1) {
            return Path.EACH;
        }
        long total = 0;
        for (RegionPair p : pairs) {
            total += p.source().size();
        }
        if (state.kernel != null && pairs.size() >= options.kernelMinRegions()
                && total / pairs.size() <= options.kernelMaxAverageBytes()) {
            return Path.KERNEL;
        }
        return driver.hasBatchCopy() ? Path.BATCH : Path.EACH;
    }

    private void batch(MemorySegment stream, List<RegionPair> pairs) {
        int n = pairs.size();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dsts = arena.allocate(JAVA_LONG, n);
            MemorySegment srcs = arena.allocate(JAVA_LONG, n);
            MemorySegment sizes = arena.allocate(JAVA_LONG, n);
            for (int i = 0; i < n; i++) {
                RegionPair p = pairs.get(i);
                dsts.setAtIndex(JAVA_LONG, i, p.destination().address());
                srcs.setAtIndex(JAVA_LONG, i, p.source().address());
                sizes.setAtIndex(JAVA_LONG, i, p.source().size());
            }
            MemorySegment attributes = arena.allocate(CudaDriver.MEMCPY_ATTRIBUTES_SIZE, 8); // zeroed: no hints
            attributes.set(JAVA_INT, 0, CudaDriver.MEMCPY_SRC_ACCESS_ORDER_STREAM);
            MemorySegment attributeIndices = arena.allocate(JAVA_LONG); // attribute 0 applies from copy 0 on
            MemorySegment failIndex = arena.allocate(JAVA_LONG);
            failIndex.set(JAVA_LONG, 0, -1);
            int r = driver.memcpyBatchAsync(dsts, srcs, sizes, n, attributes, attributeIndices, failIndex, stream);
            if (r != CudaDriver.SUCCESS) {
                long failed = failIndex.get(JAVA_LONG, 0);
                throw driver.failure(r, "cuMemcpyBatchAsync", n + " copies" + (failed >= 0 && failed < n
                        ? String.format(Locale.ROOT, ", failing at %d: dst=0x%x, src=0x%x, bytes=%d", failed,
                        pairs.get((int) failed).destination().address(), pairs.get((int) failed).source().address(),
                        pairs.get((int) failed).source().size()) : ""));
            }
            batchCalls.incrementAndGet();
        }
    }

    private void launch(DeviceState state, MemorySegment stream, List<RegionPair> pairs, long buffer) {
        MemorySegment regions = MemorySegment.ofAddress(buffer).reinterpret(KERNEL_REGIONS_PER_LAUNCH * KERNEL_REGION_BYTES);
        for (int i = 0; i < pairs.size(); i++) {
            RegionPair p = pairs.get(i);
            long at = i * KERNEL_REGION_BYTES;
            regions.set(JAVA_LONG, at, p.source().address());
            regions.set(JAVA_LONG, at + 8, p.destination().address());
            regions.set(JAVA_LONG, at + 16, p.source().size());
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment regionsArg = arena.allocate(JAVA_LONG);
            regionsArg.set(JAVA_LONG, 0, buffer);
            MemorySegment countArg = arena.allocate(JAVA_INT);
            countArg.set(JAVA_INT, 0, pairs.size());
            MemorySegment params = arena.allocate(ADDRESS, 2);
            params.setAtIndex(ADDRESS, 0, regionsArg);
            params.setAtIndex(ADDRESS, 1, countArg);
            int r = driver.launchKernel(state.kernel, Math.min(pairs.size(), KERNEL_MAX_BLOCKS), KERNEL_THREADS,
                    stream, params);
            if (r != CudaDriver.SUCCESS) {
                throw driver.failure(r, "cuLaunchKernel", KERNEL + " over " + pairs.size() + " regions");
            }
            kernelLaunches.incrementAndGet();
        }
    }

    /** A pinned, device-mapped buffer for one launch's region list; the caller holds the lock. */
    private long descriptorBuffer() {
        Long free = descriptorBuffers.poll();
        if (free != null) {
            return free;
        }
        long buffer = driver.memHostAlloc(KERNEL_REGIONS_PER_LAUNCH * KERNEL_REGION_BYTES,
                CudaDriver.MEMHOSTALLOC_PORTABLE | CudaDriver.MEMHOSTALLOC_DEVICEMAP);
        allDescriptorBuffers.add(buffer);
        return buffer;
    }

    /** Streams and the copy kernel of one device, created on first use; the caller holds the lock. */
    private DeviceState deviceState(int device) {
        driver.makeCurrent(device);
        DeviceState state = devices.get(device);
        if (state == null) {
            state = new DeviceState(device);
            devices.put(device, state);
        }
        return state;
    }

    private final class DeviceState {
        final int device;
        final MemorySegment h2d;
        final MemorySegment d2h;
        final MemorySegment d2d;
        MemorySegment module;
        MemorySegment kernel;
        String kernelProblem;
        /** Completion events done with, for reuse; guarded by the executor's lock. */
        final ArrayDeque<MemorySegment> events = new ArrayDeque<>();

        DeviceState(int device) {
            this.device = device;
            this.h2d = driver.streamCreate();
            this.d2h = driver.streamCreate();
            this.d2d = driver.streamCreate();
            try (Arena arena = Arena.ofConfined()) {
                module = driver.moduleLoadData(arena.allocateFrom(CopyKernel.ptx()));
                kernel = driver.moduleGetFunction(module, KERNEL);
            } catch (CudaException | IllegalStateException e) {
                kernelProblem = e.getMessage();
                LOG.log(System.Logger.Level.WARNING, "the copy kernel does not load on CUDA device " + device
                        + " (" + e.getMessage() + "); many-region batches use the batch call instead");
            }
        }

        /** A completion event: a used one when there is one; the caller holds the lock, the context current. */
        MemorySegment event() {
            MemorySegment event = events.poll();
            return event != null ? event : driver.eventCreate();
        }

        void destroy() {
            driver.makeCurrent(device);
            for (MemorySegment event : events) {
                driver.eventDestroy(event);
            }
            events.clear();
            for (MemorySegment s : List.of(h2d, d2h, d2d)) {
                driver.streamDestroy(s);
            }
            if (module != null) {
                driver.moduleUnload(module);
            }
        }
    }

    /** One submission whose event the completion thread waits for. */
    private record Pending(DeviceState device, MemorySegment event, CompletableFuture<Void> future, Leases leases,
                           List<Long> buffers, CudaException enqueueError) {
    }

    /**
     * The completion thread: takes new submissions under the lock, polls their events without it (the driver's
     * query must not hold up submitters), spinning briefly before it parks.
     */
    private void complete() {
        List<Pending> polled = new ArrayList<>();
        int current = -1; // the device whose context is current on this thread
        long idleSince = System.nanoTime();
        while (true) {
            lock.lock();
            try {
                while (submitted.isEmpty() && polled.isEmpty()) {
                    if (closing && stagingDone()) {
                        cleanUp();
                        return;
                    }
                    try {
                        work.await(closing ? 10 : 1000, TimeUnit.MILLISECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    idleSince = System.nanoTime();
                }
                polled.addAll(submitted);
                submitted.clear();
            } finally {
                lock.unlock();
            }
            boolean progressed = false;
            for (Iterator<Pending> it = polled.iterator(); it.hasNext(); ) {
                Pending p = it.next();
                int r;
                try {
                    if (p.device().device != current) {
                        driver.makeCurrent(p.device().device);
                        current = p.device().device;
                    }
                    r = driver.eventQuery(p.event());
                } catch (RuntimeException e) {
                    it.remove();
                    finish(p, e);
                    progressed = true;
                    continue;
                }
                if (r == CudaDriver.ERROR_NOT_READY) {
                    continue;
                }
                it.remove();
                finish(p, r == CudaDriver.SUCCESS ? null
                        : driver.failure(r, "cuEventQuery", "completion of a copy on device " + p.device().device));
                progressed = true;
            }
            if (progressed) {
                idleSince = System.nanoTime();
            } else if (System.nanoTime() - idleSince < 50_000) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(20_000);
            }
        }
    }

    /** Gives back what a finished submission held, then completes its future; on the completion thread. */
    private void finish(Pending p, Throwable failure) {
        lock.lock();
        try {
            p.buffers().forEach(descriptorBuffers::push);
            if (failure == null) {
                p.device().events.push(p.event()); // reused by a later submission
            } else {
                try {
                    driver.eventDestroy(p.event());
                } catch (CudaException e) {
                    LOG.log(System.Logger.Level.WARNING, "could not destroy a completion event: " + e.getMessage());
                }
            }
        } finally {
            lock.unlock();
        }
        p.leases().close();
        Throwable cause = p.enqueueError() != null ? p.enqueueError() : failure;
        if (cause == null) {
            p.future().complete(null);
        } else {
            p.future().completeExceptionally(cause);
        }
    }

    /**
     * A batch with System memory on one side, on the staging thread: the System bytes go through two pinned bounce
     * buffers. Host→device: fill a buffer, enqueue its copies, fill the other while they run. Device→host: enqueue a
     * chunk into one buffer, drain the previous chunk from the other.
     */
    private void staged(int device, HostStorage system, boolean toDevice, Storage src, Storage dst,
                        List<RegionPair> pairs, Leases leases, CompletableFuture<Void> future) {
        MemorySegment stream = null;
        MemorySegment[] events = new MemorySegment[2];
        try {
            DeviceState state;
            long[] buffers;
            lock.lock();
            try {
                state = deviceState(device);
                buffers = stageBuffers();
            } finally {
                lock.unlock();
            }
            stream = toDevice ? state.h2d : state.d2h;
            events[0] = driver.eventCreate();
            events[1] = driver.eventCreate();
            MemorySegment host = system.segment();
            long hostBase = system.region().address();
            List<List<Piece>> chunks = chunks(pairs, options.stageBytes());
            boolean[] recorded = new boolean[2];
            for (int c = 0; c < chunks.size(); c++) {
                int b = c & 1;
                MemorySegment buffer = MemorySegment.ofAddress(buffers[b]).reinterpret(options.stageBytes());
                if (recorded[b]) {
                    driver.eventSynchronize(events[b]); // the buffer's previous chunk has left it
                }
                for (Piece piece : chunks.get(c)) {
                    if (toDevice) {
                        MemorySegment.copy(host, piece.source - hostBase, buffer, piece.offset, piece.size);
                        check(driver.memcpyAsync(piece.destination, buffers[b] + piece.offset, piece.size, stream),
                                piece);
                    } else {
                        check(driver.memcpyAsync(buffers[b] + piece.offset, piece.source, piece.size, stream), piece);
                    }
                }
                driver.eventRecord(events[b], stream);
                recorded[b] = true;
                if (!toDevice && c > 0) {
                    drain(events[b ^ 1], chunks.get(c - 1), buffers[b ^ 1], host, hostBase);
                }
            }
            if (toDevice) {
                driver.eventSynchronize(events[(chunks.size() - 1) & 1]);
            } else {
                int last = chunks.size() - 1;
                drain(events[last & 1], chunks.get(last), buffers[last & 1], host, hostBase);
            }
            leases.close();
            future.complete(null);
        } catch (RuntimeException e) {
            if (stream != null) {
                try {
                    driver.streamSynchronize(stream); // nothing may still be copying when the leases go
                } catch (CudaException ignored) {
                    // the stream's error is the failure reported below
                }
            }
            leases.close();
            future.completeExceptionally(e);
        } finally {
            for (MemorySegment event : events) {
                if (event != null) {
                    driver.eventDestroy(event);
                }
            }
        }
    }

    private void drain(MemorySegment event, List<Piece> chunk, long buffer, MemorySegment host, long hostBase) {
        driver.eventSynchronize(event);
        MemorySegment from = MemorySegment.ofAddress(buffer).reinterpret(options.stageBytes());
        for (Piece piece : chunk) {
            MemorySegment.copy(from, piece.offset, host, piece.destination - hostBase, piece.size);
        }
    }

    private void check(int result, Piece piece) {
        if (result != CudaDriver.SUCCESS) {
            throw driver.failure(result, "cuMemcpyAsync", String.format(Locale.ROOT,
                    "staged piece: dst=0x%x, src=0x%x, bytes=%d", piece.destination, piece.source, piece.size));
        }
    }

    /** Part of a pair at {@code offset} of a bounce buffer. */
    private record Piece(long source, long destination, long size, long offset) {
    }

    /** Cuts the pairs into chunks of at most {@code chunkBytes}, splitting a pair where a chunk fills up. */
    static List<List<Piece>> chunks(List<RegionPair> pairs, long chunkBytes) {
        List<List<Piece>> out = new ArrayList<>();
        List<Piece> current = new ArrayList<>();
        long used = 0;
        for (RegionPair p : pairs) {
            long done = 0;
            long size = p.source().size();
            while (done < size) {
                long take = Math.min(size - done, chunkBytes - used);
                current.add(new Piece(p.source().address() + done, p.destination().address() + done, take, used));
                used += take;
                done += take;
                if (used == chunkBytes) {
                    out.add(current);
                    current = new ArrayList<>();
                    used = 0;
                }
            }
        }
        if (!current.isEmpty()) {
            out.add(current);
        }
        return out;
    }

    /** The two pinned bounce buffers; the caller holds the lock. */
    private long[] stageBuffers() {
        if (stageBuffers == null) {
            long first = driver.memHostAlloc(options.stageBytes(), CudaDriver.MEMHOSTALLOC_PORTABLE);
            long second;
            try {
                second = driver.memHostAlloc(options.stageBytes(), CudaDriver.MEMHOSTALLOC_PORTABLE);
            } catch (CudaException e) {
                driver.memFreeHost(first);
                throw e;
            }
            stageBuffers = new long[] {first, second};
        }
        return stageBuffers;
    }

    private boolean stagingDone() {
        return staging.isTerminated();
    }

    /** Frees streams, modules and buffers once nothing is pending; runs on the completion thread. */
    private void cleanUp() {
        if (cleanedUp) {
            return;
        }
        cleanedUp = true;
        try {
            for (DeviceState state : devices.values()) {
                state.destroy();
            }
            driver.makeCurrent(0);
            for (long buffer : allDescriptorBuffers) {
                driver.memFreeHost(buffer);
            }
            if (stageBuffers != null) {
                driver.memFreeHost(stageBuffers[0]);
                driver.memFreeHost(stageBuffers[1]);
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "executor " + name + " could not free all its driver resources", e);
        }
    }

    /**
     * Lets submitted batches finish, then frees the executor's streams and buffers; idempotent. Called from a
     * completion callback (on one of this executor's threads) it returns at once and the completion thread frees
     * them when the last batch is done.
     */
    @Override
    public void close() {
        closing = true;
        staging.shutdown();
        lock.lock();
        try {
            work.signalAll();
        } finally {
            lock.unlock();
        }
        Thread current = Thread.currentThread();
        if (current == completion || current == stagingThread) {
            return;
        }
        boolean interrupted = false;
        while (completion.isAlive()) {
            try {
                completion.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "CudaCopyExecutor[" + name + ", " + driver + "]";
    }

    /** The leases of a batch's two storages (one when both are the same). */
    private record Leases(Lifetime.Lease source, Lifetime.Lease destination) implements AutoCloseable {
        static Leases of(Storage src, Storage dst) {
            Lifetime.Lease s = src.acquire();
            try {
                return new Leases(s, src == dst ? null : dst.acquire());
            } catch (RuntimeException e) {
                s.close();
                throw e;
            }
        }

        @Override
        public void close() {
            source.close();
            if (destination != null) {
                destination.close();
            }
        }
    }
}
