package dev.kvbm.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The CUDA driver API functions this backend calls, bound with {@code java.lang.foreign} to their exported,
 * versioned names ({@code cuMemAlloc_v2}, {@code cuMemFree_v2}, …), so the same jar works against CUDA 12 and 13
 * drivers. Contexts are the devices' primary contexts ({@code cuDevicePrimaryCtxRetain} + {@code cuCtxSetCurrent};
 * not {@code cuCtxCreate}, whose signature changed in CUDA 13), retained once per device for the life of the
 * process. Every {@code CUresult} is checked: a failure becomes a {@link CudaException} naming the call, its
 * arguments, and {@code cuGetErrorName}/{@code cuGetErrorString} of the result.
 *
 * <p>The library is {@code libcuda.so.1}, or the file named by the system property {@value #LIBRARY_PROPERTY}
 * (the tests load a host-memory stand-in that way). Thread-safe.
 */
final class CudaDriver {
    /** System property naming the driver library to load instead of {@code libcuda.so.1}. */
    static final String LIBRARY_PROPERTY = "kvbm.cuda.library";
    /** The oldest driver this backend runs on: CUDA 12.0. */
    static final int MIN_VERSION = 12000;

    static final int SUCCESS = 0;
    static final int ERROR_NOT_READY = 600;
    static final int MEMHOSTALLOC_PORTABLE = 0x01;
    static final int MEMHOSTALLOC_DEVICEMAP = 0x02;
    static final int MEMHOSTALLOC_WRITECOMBINED = 0x04;
    static final int MEMHOSTREGISTER_PORTABLE = 0x01;
    static final int MEMHOSTREGISTER_DEVICEMAP = 0x02;
    static final int STREAM_NON_BLOCKING = 0x1;
    static final int EVENT_DISABLE_TIMING = 0x2;
    /** {@code CU_MEMCPY_SRC_ACCESS_ORDER_STREAM}: sources are read in stream order. */
    static final int MEMCPY_SRC_ACCESS_ORDER_STREAM = 0x1;
    /** {@code sizeof(CUmemcpyAttributes)}: access order, two {@code CUmemLocation}s, flags. */
    static final long MEMCPY_ATTRIBUTES_SIZE = 24;

    private static final Linker LINKER = Linker.nativeLinker();

    private final String library;
    private final SymbolLookup symbols;
    private final int version;
    private final Map<Integer, Long> contexts = new ConcurrentHashMap<>();

    private final MethodHandle cuInit;
    private final MethodHandle cuDriverGetVersion;
    private final MethodHandle cuDeviceGetCount;
    private final MethodHandle cuDeviceGet;
    private final MethodHandle cuDeviceGetName;
    private final MethodHandle cuDeviceTotalMem;
    private final MethodHandle cuDevicePrimaryCtxRetain;
    private final MethodHandle cuCtxSetCurrent;
    private final MethodHandle cuMemAlloc;
    private final MethodHandle cuMemFree;
    private final MethodHandle cuMemHostAlloc;
    private final MethodHandle cuMemFreeHost;
    private final MethodHandle cuMemHostRegister;
    private final MethodHandle cuMemHostUnregister;
    private final MethodHandle cuMemcpy;
    private final MethodHandle cuMemcpyAsync;
    private final MethodHandle cuMemcpyBatchAsync; // null when the driver has none (before 12.8)
    private final boolean batchTakesFailIndex; // CUDA 12.8/12.9's signature, with size_t* failIdx before the stream
    private final MethodHandle cuStreamCreate;
    private final MethodHandle cuStreamDestroy;
    private final MethodHandle cuStreamSynchronize;
    private final MethodHandle cuEventCreate;
    private final MethodHandle cuEventRecord;
    private final MethodHandle cuEventQuery;
    private final MethodHandle cuEventSynchronize;
    private final MethodHandle cuEventDestroy;
    private final MethodHandle cuGetErrorName;
    private final MethodHandle cuGetErrorString;
    private final MethodHandle cuModuleLoadData;
    private final MethodHandle cuModuleGetFunction;
    private final MethodHandle cuModuleUnload;
    private final MethodHandle cuLaunchKernel;

    private CudaDriver(String library) {
        this.library = library;
        this.symbols = library.contains("/")
                ? SymbolLookup.libraryLookup(Path.of(library), Arena.global())
                : SymbolLookup.libraryLookup(library, Arena.global());
        cuGetErrorName = bind("cuGetErrorName", JAVA_INT, ADDRESS);
        cuGetErrorString = bind("cuGetErrorString", JAVA_INT, ADDRESS);
        cuInit = bind("cuInit", JAVA_INT);
        cuDriverGetVersion = bind("cuDriverGetVersion", ADDRESS);
        cuDeviceGetCount = bind("cuDeviceGetCount", ADDRESS);
        cuDeviceGet = bind("cuDeviceGet", ADDRESS, JAVA_INT);
        cuDeviceGetName = bind("cuDeviceGetName", ADDRESS, JAVA_INT, JAVA_INT);
        cuDeviceTotalMem = bind("cuDeviceTotalMem_v2", ADDRESS, JAVA_INT);
        cuDevicePrimaryCtxRetain = bind("cuDevicePrimaryCtxRetain", ADDRESS, JAVA_INT);
        cuCtxSetCurrent = bind("cuCtxSetCurrent", ADDRESS);
        cuMemAlloc = bind("cuMemAlloc_v2", ADDRESS, JAVA_LONG);
        cuMemFree = bind("cuMemFree_v2", JAVA_LONG);
        cuMemHostAlloc = bind("cuMemHostAlloc", ADDRESS, JAVA_LONG, JAVA_INT);
        cuMemFreeHost = bind("cuMemFreeHost", JAVA_LONG);
        cuMemHostRegister = bind("cuMemHostRegister_v2", JAVA_LONG, JAVA_LONG, JAVA_INT);
        cuMemHostUnregister = bind("cuMemHostUnregister", JAVA_LONG);
        cuMemcpy = bind("cuMemcpy", JAVA_LONG, JAVA_LONG, JAVA_LONG);
        cuMemcpyAsync = bind("cuMemcpyAsync", JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS);
        cuStreamCreate = bind("cuStreamCreate", ADDRESS, JAVA_INT);
        cuStreamDestroy = bind("cuStreamDestroy_v2", ADDRESS);
        cuStreamSynchronize = bind("cuStreamSynchronize", ADDRESS);
        cuEventCreate = bind("cuEventCreate", ADDRESS, JAVA_INT);
        cuEventRecord = bind("cuEventRecord", ADDRESS, ADDRESS);
        cuEventQuery = bind("cuEventQuery", ADDRESS);
        cuEventSynchronize = bind("cuEventSynchronize", ADDRESS);
        cuEventDestroy = bind("cuEventDestroy_v2", ADDRESS);
        cuModuleLoadData = bind("cuModuleLoadData", ADDRESS, ADDRESS);
        cuModuleGetFunction = bind("cuModuleGetFunction", ADDRESS, ADDRESS, ADDRESS);
        cuModuleUnload = bind("cuModuleUnload", ADDRESS);
        cuLaunchKernel = bind("cuLaunchKernel", ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        // CUDA 13 exports the batch copy as cuMemcpyBatchAsync_v2 (no failIdx); 12.8 and 12.9 as cuMemcpyBatchAsync
        // with a size_t* failIdx before the stream. Older drivers have neither: copies then go one by one.
        MemorySegment v2 = symbols.find("cuMemcpyBatchAsync_v2").orElse(null);
        MemorySegment v1 = symbols.find("cuMemcpyBatchAsync").orElse(null);
        if (v2 != null) {
            cuMemcpyBatchAsync = LINKER.downcallHandle(v2, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
            batchTakesFailIndex = false;
        } else if (v1 != null) {
            cuMemcpyBatchAsync = LINKER.downcallHandle(v1, FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS,
                    JAVA_LONG, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));
            batchTakesFailIndex = true;
        } else {
            cuMemcpyBatchAsync = null;
            batchTakesFailIndex = false;
        }
        check(call(() -> (int) cuInit.invokeExact(0)), "cuInit", "flags=0");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check(call(() -> (int) cuDriverGetVersion.invokeExact(out)), "cuDriverGetVersion", "");
            this.version = out.get(JAVA_INT, 0);
        }
    }

    /**
     * Loads and initializes a driver library; the caller decides whether it is usable ({@link #probe}).
     *
     * @param library {@code libcuda.so.1}, or a path
     * @return the bound driver, initialized with {@code cuInit(0)}
     * @throws IllegalArgumentException when the library cannot be loaded or lacks a function
     * @throws CudaException            when {@code cuInit} fails (no device, driver and kernel module mismatch, …)
     */
    static CudaDriver load(String library) {
        return new CudaDriver(library);
    }

    /**
     * Loads {@code library} and checks that it can serve this backend: driver version at least
     * {@value #MIN_VERSION}, at least one device.
     *
     * @return the driver, or why it cannot be used
     */
    static Probe probe(String library) {
        if (!CudaDriver.class.getModule().isNativeAccessEnabled()) {
            // Checked before any restricted call, so the JDK prints no warning and the reason names the flag.
            return new Probe(null, new IllegalStateException("native access is not enabled for module "
                    + CudaDriver.class.getModule().getName() + "; run with --enable-native-access="
                    + (CudaDriver.class.getModule().isNamed() ? "dev.kvbm.backend.cuda" : "ALL-UNNAMED")));
        }
        CudaDriver driver;
        try {
            driver = load(library);
        } catch (IllegalCallerException e) {
            return new Probe(null, new IllegalStateException("native access is not enabled for module"
                    + " dev.kvbm.backend.cuda; run with --enable-native-access=dev.kvbm.backend.cuda", e));
        } catch (IllegalArgumentException e) {
            return new Probe(null, new IllegalStateException("the CUDA driver library " + library + " could not be"
                    + " loaded (no NVIDIA driver on this machine?): " + e.getMessage(), e));
        } catch (CudaException e) {
            return new Probe(null, new IllegalStateException("the CUDA driver " + library + " is present but "
                    + e.getMessage(), e));
        }
        if (driver.version < MIN_VERSION) {
            return new Probe(null, new IllegalStateException(String.format(Locale.ROOT,
                    "the CUDA driver is version %s (%d); kvbm-backend-cuda needs %s or newer",
                    versionString(driver.version), driver.version, versionString(MIN_VERSION))));
        }
        int devices;
        try {
            devices = driver.deviceCount();
        } catch (CudaException e) {
            return new Probe(null, new IllegalStateException("the CUDA driver cannot count devices: "
                    + e.getMessage(), e));
        }
        if (devices < 1) {
            return new Probe(null, new IllegalStateException("the CUDA driver " + versionString(driver.version)
                    + " sees no device"));
        }
        return new Probe(driver, null);
    }

    /** A probe's outcome: a usable driver, or the reason there is none. */
    record Probe(CudaDriver driver, Throwable cause) {
        Optional<Throwable> unavailability() {
            return Optional.ofNullable(cause);
        }

        CudaDriver require(String provider) {
            if (driver == null) {
                throw new UnsupportedOperationException("backend provider '" + provider + "' is unavailable: "
                        + cause.getMessage(), cause);
            }
            return driver;
        }
    }

    /** The driver named by {@value #LIBRARY_PROPERTY}, or {@code libcuda.so.1}: probed once per JVM. */
    static Probe system() {
        return SystemDriver.PROBE;
    }

    private static final class SystemDriver {
        static final Probe PROBE = probe(System.getProperty(LIBRARY_PROPERTY, "libcuda.so.1"));
    }

    static String versionString(int version) {
        return (version / 1000) + "." + (version % 1000) / 10;
    }

    private MethodHandle bind(String name, MemoryLayout... arguments) {
        MemorySegment symbol = symbols.find(name).orElseThrow(() -> new IllegalArgumentException(
                "the CUDA driver library " + library + " has no function " + name));
        return LINKER.downcallHandle(symbol, FunctionDescriptor.of(JAVA_INT, arguments));
    }

    @FunctionalInterface
    private interface Call {
        int run() throws Throwable;
    }

    private static int call(Call call) {
        try {
            return call.run();
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** Throws a {@link CudaException} unless {@code result} is {@code CUDA_SUCCESS}. */
    void check(int result, String call, String arguments) {
        if (result != SUCCESS) {
            throw failure(result, call, arguments);
        }
    }

    CudaException failure(int result, String call, String arguments) {
        return new CudaException(call, arguments, result, errorName(result), errorString(result));
    }

    String errorName(int result) {
        return errorText(cuGetErrorName, result, "CUDA_ERROR_" + result);
    }

    String errorString(int result) {
        return errorText(cuGetErrorString, result, "unknown error " + result);
    }

    private static String errorText(MethodHandle function, int result, String unknown) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            int r = call(() -> (int) function.invokeExact(result, out));
            MemorySegment text = out.get(ADDRESS, 0);
            return r != SUCCESS || text.equals(MemorySegment.NULL) ? unknown : text.reinterpret(512).getString(0);
        }
    }

    /** {@return the driver's version, e.g. 13000 for CUDA 13.0} */
    int version() {
        return version;
    }

    /** {@return the library this driver was loaded from} */
    String library() {
        return library;
    }

    /** {@return true when the driver copies many regions in one call ({@code cuMemcpyBatchAsync}, CUDA 12.8+)} */
    boolean hasBatchCopy() {
        return cuMemcpyBatchAsync != null;
    }

    int deviceCount() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check(call(() -> (int) cuDeviceGetCount.invokeExact(out)), "cuDeviceGetCount", "");
            return out.get(JAVA_INT, 0);
        }
    }

    private int device(int ordinal) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_INT);
            check(call(() -> (int) cuDeviceGet.invokeExact(out, ordinal)), "cuDeviceGet", "ordinal=" + ordinal);
            return out.get(JAVA_INT, 0);
        }
    }

    String deviceName(int ordinal) {
        int device = device(ordinal);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(256);
            check(call(() -> (int) cuDeviceGetName.invokeExact(out, 256, device)), "cuDeviceGetName",
                    "device=" + ordinal);
            return out.getString(0);
        }
    }

    long deviceTotalMemory(int ordinal) {
        int device = device(ordinal);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check(call(() -> (int) cuDeviceTotalMem.invokeExact(out, device)), "cuDeviceTotalMem_v2",
                    "device=" + ordinal);
            return out.get(JAVA_LONG, 0);
        }
    }

    /**
     * Makes device {@code ordinal}'s primary context current on the calling thread, retaining it the first time.
     * Every call that allocates, frees, copies or queries does this first: CUDA's current context is per thread.
     */
    void makeCurrent(int ordinal) {
        long context = contexts.computeIfAbsent(ordinal, this::retainPrimaryContext);
        check(call(() -> (int) cuCtxSetCurrent.invokeExact(MemorySegment.ofAddress(context))), "cuCtxSetCurrent",
                "context of device " + ordinal);
    }

    private long retainPrimaryContext(int ordinal) {
        int device = device(ordinal);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(call(() -> (int) cuDevicePrimaryCtxRetain.invokeExact(out, device)), "cuDevicePrimaryCtxRetain",
                    "device=" + ordinal);
            return out.get(ADDRESS, 0).address();
        }
    }

    /** {@code cuMemAlloc_v2}: device memory of the current context's device. */
    long memAlloc(long bytes) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(JAVA_LONG);
            check(call(() -> (int) cuMemAlloc.invokeExact(out, bytes)), "cuMemAlloc_v2", "bytes=" + bytes);
            return out.get(JAVA_LONG, 0);
        }
    }

    void memFree(long pointer) {
        check(call(() -> (int) cuMemFree.invokeExact(pointer)), "cuMemFree_v2", hex(pointer));
    }

    /** {@code cuMemHostAlloc}: page-locked host memory. */
    long memHostAlloc(long bytes, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(call(() -> (int) cuMemHostAlloc.invokeExact(out, bytes, flags)), "cuMemHostAlloc",
                    "bytes=" + bytes + ", flags=0x" + Integer.toHexString(flags));
            return out.get(ADDRESS, 0).address();
        }
    }

    void memFreeHost(long pointer) {
        check(call(() -> (int) cuMemFreeHost.invokeExact(pointer)), "cuMemFreeHost", hex(pointer));
    }

    void memHostRegister(long pointer, long bytes, int flags) {
        check(call(() -> (int) cuMemHostRegister.invokeExact(pointer, bytes, flags)), "cuMemHostRegister_v2",
                hex(pointer) + ", bytes=" + bytes + ", flags=0x" + Integer.toHexString(flags));
    }

    void memHostUnregister(long pointer) {
        check(call(() -> (int) cuMemHostUnregister.invokeExact(pointer)), "cuMemHostUnregister", hex(pointer));
    }

    /** {@code cuMemcpy}: a synchronous copy between any two addresses of the unified address space. */
    void memcpy(long dst, long src, long bytes) {
        check(call(() -> (int) cuMemcpy.invokeExact(dst, src, bytes)), "cuMemcpy",
                "dst=" + hex(dst) + ", src=" + hex(src) + ", bytes=" + bytes);
    }

    /** {@code cuMemcpyAsync}, returning the result instead of throwing (the executor names the pair itself). */
    int memcpyAsync(long dst, long src, long bytes, MemorySegment stream) {
        return call(() -> (int) cuMemcpyAsync.invokeExact(dst, src, bytes, stream));
    }

    /**
     * {@code cuMemcpyBatchAsync}: {@code count} copies in one call, with one attribute (stream-ordered sources) for
     * all. The arrays are read by the driver during the call only.
     */
    int memcpyBatchAsync(MemorySegment dsts, MemorySegment srcs, MemorySegment sizes, long count,
                         MemorySegment attributes, MemorySegment attributeIndices, MemorySegment failIndex,
                         MemorySegment stream) {
        if (batchTakesFailIndex) {
            return call(() -> (int) cuMemcpyBatchAsync.invokeExact(dsts, srcs, sizes, count, attributes,
                    attributeIndices, 1L, failIndex, stream));
        }
        return call(() -> (int) cuMemcpyBatchAsync.invokeExact(dsts, srcs, sizes, count, attributes,
                attributeIndices, 1L, stream));
    }

    MemorySegment streamCreate() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(call(() -> (int) cuStreamCreate.invokeExact(out, STREAM_NON_BLOCKING)), "cuStreamCreate",
                    "flags=CU_STREAM_NON_BLOCKING");
            return out.get(ADDRESS, 0);
        }
    }

    void streamDestroy(MemorySegment stream) {
        check(call(() -> (int) cuStreamDestroy.invokeExact(stream)), "cuStreamDestroy_v2", hex(stream.address()));
    }

    void streamSynchronize(MemorySegment stream) {
        check(call(() -> (int) cuStreamSynchronize.invokeExact(stream)), "cuStreamSynchronize",
                hex(stream.address()));
    }

    MemorySegment eventCreate() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(call(() -> (int) cuEventCreate.invokeExact(out, EVENT_DISABLE_TIMING)), "cuEventCreate",
                    "flags=CU_EVENT_DISABLE_TIMING");
            return out.get(ADDRESS, 0);
        }
    }

    void eventRecord(MemorySegment event, MemorySegment stream) {
        check(call(() -> (int) cuEventRecord.invokeExact(event, stream)), "cuEventRecord",
                "event=" + hex(event.address()) + ", stream=" + hex(stream.address()));
    }

    /** {@code cuEventQuery}: {@link #SUCCESS}, {@link #ERROR_NOT_READY}, or the error of the work before it. */
    int eventQuery(MemorySegment event) {
        return call(() -> (int) cuEventQuery.invokeExact(event));
    }

    void eventSynchronize(MemorySegment event) {
        check(call(() -> (int) cuEventSynchronize.invokeExact(event)), "cuEventSynchronize", hex(event.address()));
    }

    void eventDestroy(MemorySegment event) {
        check(call(() -> (int) cuEventDestroy.invokeExact(event)), "cuEventDestroy_v2", hex(event.address()));
    }

    /** {@code cuModuleLoadData}: the driver compiles a NUL-terminated PTX image for the current device. */
    MemorySegment moduleLoadData(MemorySegment image) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            check(call(() -> (int) cuModuleLoadData.invokeExact(out, image)), "cuModuleLoadData",
                    "image of " + image.byteSize() + " bytes");
            return out.get(ADDRESS, 0);
        }
    }

    MemorySegment moduleGetFunction(MemorySegment module, String name) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment out = arena.allocate(ADDRESS);
            MemorySegment cName = arena.allocateFrom(name);
            check(call(() -> (int) cuModuleGetFunction.invokeExact(out, module, cName)), "cuModuleGetFunction",
                    "name=" + name);
            return out.get(ADDRESS, 0);
        }
    }

    void moduleUnload(MemorySegment module) {
        check(call(() -> (int) cuModuleUnload.invokeExact(module)), "cuModuleUnload", hex(module.address()));
    }

    /** {@code cuLaunchKernel} with a 1-D grid and block; returns the result. */
    int launchKernel(MemorySegment function, int gridX, int blockX, MemorySegment stream, MemorySegment params) {
        return call(() -> (int) cuLaunchKernel.invokeExact(function, gridX, 1, 1, blockX, 1, 1, 0, stream, params,
                MemorySegment.NULL));
    }

    static String hex(long address) {
        return "0x" + Long.toHexString(address);
    }

    @Override
    public String toString() {
        return "CudaDriver[" + library + ", " + versionString(version) + "]";
    }
}
