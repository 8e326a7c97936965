package dev.kvbm.backend.cuda;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * TEST DOUBLE: the host-memory stand-in for the CUDA driver ({@code src/test/c/cuda_standin.c}), built with gcc
 * on first use and loaded in place of {@code libcuda.so.1}. It exercises the binding's Java side (marshalling,
 * error mapping, completion, accounting, staging); it is not a GPU and verifies nothing about one.
 *
 * <p>Without gcc the tests that need it are skipped with the reason; with {@code KVBM_REQUIRE=cuda-standin} (set
 * by {@code .ci/run}) that is a failure instead.
 */
final class CudaStandIn {
    /** Which batch-copy entry point the stand-in exports. */
    enum Variant {
        /** CUDA 13: {@code cuMemcpyBatchAsync_v2}. */
        CUDA13(""),
        /** CUDA 12.8/12.9: {@code cuMemcpyBatchAsync} with {@code failIdx}. */
        CUDA12("-DSTANDIN_CUDA12"),
        /** Before 12.8: no batch copy. */
        NO_BATCH("-DSTANDIN_NO_BATCH");

        final String define;

        Variant(String define) {
            this.define = define;
        }
    }

    private static final Path SOURCE = Path.of("src/test/c/cuda_standin.c");
    private static final Map<Variant, CudaStandIn> LOADED = new ConcurrentHashMap<>();

    final Path library;
    final CudaDriver.Probe probe;
    private final MethodHandle fail;
    private final MethodHandle setOpDelay;
    private final MethodHandle setVersion;
    private final MethodHandle pageableCopies;
    private final MethodHandle violations;
    private final MethodHandle kernelLaunches;
    private final MethodHandle batchCalls;
    private final MethodHandle liveAllocations;
    private final MethodHandle eventsCreated;
    private final MethodHandle lastHostAllocFlags;

    private CudaStandIn(Path library) {
        this.library = library;
        SymbolLookup lookup = SymbolLookup.libraryLookup(library, Arena.global());
        Linker linker = Linker.nativeLinker();
        fail = linker.downcallHandle(lookup.find("standin_fail").orElseThrow(),
                FunctionDescriptor.ofVoid(ADDRESS, JAVA_INT, JAVA_INT));
        setOpDelay = linker.downcallHandle(lookup.find("standin_set_op_delay_us").orElseThrow(),
                FunctionDescriptor.ofVoid(JAVA_INT));
        setVersion = linker.downcallHandle(lookup.find("standin_set_version").orElseThrow(),
                FunctionDescriptor.ofVoid(JAVA_INT));
        pageableCopies = counter(linker, lookup, "standin_pageable_copies");
        violations = counter(linker, lookup, "standin_violations");
        kernelLaunches = counter(linker, lookup, "standin_kernel_launches");
        batchCalls = counter(linker, lookup, "standin_batch_calls");
        liveAllocations = counter(linker, lookup, "standin_live_allocations");
        eventsCreated = counter(linker, lookup, "standin_events_created");
        lastHostAllocFlags = linker.downcallHandle(lookup.find("standin_last_host_alloc_flags").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT));
        this.probe = CudaDriver.probe(library.toString());
    }

    private static MethodHandle counter(Linker linker, SymbolLookup lookup, String name) {
        return linker.downcallHandle(lookup.find(name).orElseThrow(), FunctionDescriptor.of(JAVA_LONG));
    }

    /** The stand-in of the CUDA 13 variant; skips the test when it cannot be built here. */
    static CudaStandIn get() {
        return get(Variant.CUDA13);
    }

    static CudaStandIn get(Variant variant) {
        CudaStandIn loaded = LOADED.get(variant);
        if (loaded != null) {
            return loaded;
        }
        synchronized (LOADED) {
            return LOADED.computeIfAbsent(variant, v -> new CudaStandIn(build(v)));
        }
    }

    private static Path build(Variant variant) {
        Path out = Path.of("target/cuda-standin/libcuda_standin_" + variant.name().toLowerCase() + ".so");
        try {
            if (Files.exists(out) && Files.getLastModifiedTime(out).compareTo(Files.getLastModifiedTime(SOURCE)) > 0) {
                return out.toAbsolutePath();
            }
            Files.createDirectories(out.getParent());
            List<String> command = new java.util.ArrayList<>(List.of("gcc", "-shared", "-fPIC", "-O2", "-pthread",
                    "-Wall", "-Werror", "-o", out.toString(), SOURCE.toString()));
            if (!variant.define.isEmpty()) {
                command.add(1, variant.define);
            }
            Process gcc;
            try {
                gcc = new ProcessBuilder(command).redirectErrorStream(true).start();
            } catch (IOException e) {
                unavailable("gcc is needed to build the CUDA stand-in (test double) and is not installed: "
                        + e.getMessage());
                throw new IllegalStateException("unreachable");
            }
            String output = new String(gcc.getInputStream().readAllBytes());
            if (!gcc.waitFor(2, TimeUnit.MINUTES) || gcc.exitValue() != 0) {
                fail("gcc could not build the CUDA stand-in: " + output);
            }
            return out.toAbsolutePath();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void unavailable(String reason) {
        String require = System.getProperty("kvbm.require", "") + "," + System.getenv().getOrDefault("KVBM_REQUIRE", "");
        if (List.of(require.split(",")).contains("cuda-standin")) {
            fail(reason + " (and KVBM_REQUIRE=cuda-standin says it must be there)");
        }
        Assumptions.abort(reason);
    }

    /** The next {@code after}+1-th call of {@code function} returns {@code result} instead of working. */
    void failNext(String function, int result, int after) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment name = arena.allocateFrom(function);
            fail.invokeExact(name, result, after);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    void clearFailure() {
        failNext("", 0, 0);
    }

    void opDelayMicros(int micros) {
        try {
            setOpDelay.invokeExact(micros);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    void driverVersion(int version) {
        try {
            setVersion.invokeExact(version);
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    private static long read(MethodHandle counter) {
        try {
            return (long) counter.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    long pageableCopies() {
        return read(pageableCopies);
    }

    long violations() {
        return read(violations);
    }

    long kernelLaunches() {
        return read(kernelLaunches);
    }

    long batchCalls() {
        return read(batchCalls);
    }

    long liveAllocations() {
        return read(liveAllocations);
    }

    long eventsCreated() {
        return read(eventsCreated);
    }

    /** {@return the flags of the last {@code cuMemHostAlloc}} */
    int lastHostAllocFlags() {
        try {
            return (int) lastHostAllocFlags.invokeExact();
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    CudaPinnedStorageProvider pinned() {
        return new CudaPinnedStorageProvider(probe, false);
    }

    CudaDeviceStorageProvider device() {
        return new CudaDeviceStorageProvider(probe);
    }

    CudaCopyExecutorProvider executors(CudaCopyExecutor.Path forced) {
        return new CudaCopyExecutorProvider(probe, new CudaCopyExecutor.Options(forced, 64, 256 * 1024, 1L << 20));
    }
}
