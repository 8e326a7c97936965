package dev.kvbm.backend.cuda;

import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * H2D, D2H and D2D throughput of the executor for 256 scattered 2 MiB blocks, next to one bulk {@code cuMemcpy} of
 * the same bytes between the same allocations, measured in the same run; prints one line per case with the ratio.
 * Cases: FullyContiguous→FullyContiguous (each block one region, blocks in a random order), and
 * LayerSeparate→FullyContiguous (32 layers × 2 of 32 KiB per block: 16384 regions) by the batch call and by the
 * kernel. Run it with {@code --enable-native-access=dev.kvbm.backend.cuda -m
 * dev.kvbm.backend.cuda/dev.kvbm.backend.cuda.CudaCopyBenchmark [--blocks N] [--repeat N]}; the GPU bundle
 * ({@code scripts/gpu-bundle}) does.
 */
public final class CudaCopyBenchmark {
    private static final long BLOCK = 2L << 20;
    private static final int LAYERS = 32;
    private static final int OUTER = 2;
    private static final long CHUNK = BLOCK / (LAYERS * OUTER);

    private CudaCopyBenchmark() {
    }

    /**
     * Runs the benchmark on device 0.
     *
     * @param args {@code --blocks N} (default 256), {@code --repeat N} (default 5)
     */
    public static void main(String[] args) throws Exception {
        int blocks = 256;
        int repeat = 5;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--blocks" -> blocks = Integer.parseInt(args[++i]);
                case "--repeat" -> repeat = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; use --blocks N --repeat N");
            }
        }
        CudaDriver.Probe probe = CudaDriver.system();
        CudaDriver driver = probe.require("cuda-copy benchmark");
        System.out.printf(Locale.ROOT, "device 0: %s, driver %s (%d), batch call: %s%n", driver.deviceName(0),
                CudaDriver.versionString(driver.version()), driver.version(), driver.hasBatchCopy() ? "yes" : "no");
        long bytes = blocks * BLOCK;
        CudaPinnedStorageProvider pinnedProvider = new CudaPinnedStorageProvider(probe, false);
        CudaDeviceStorageProvider deviceProvider = new CudaDeviceStorageProvider(probe);
        try (Storage pinned = pinnedProvider.allocate(StorageKind.PINNED, bytes);
             Storage deviceA = deviceProvider.allocate(StorageKind.device(0), bytes);
             Storage deviceB = deviceProvider.allocate(StorageKind.device(0), bytes)) {
            int[] order = shuffled(blocks, 42);
            System.out.println("case | path | GB/s | bulk cuMemcpy GB/s | ratio");
            for (String direction : List.of("H2D", "D2H", "D2D")) {
                Storage src = direction.equals("H2D") ? pinned : deviceA;
                Storage dst = direction.equals("D2H") ? pinned : direction.equals("H2D") ? deviceA : deviceB;
                double bulk = bulk(driver, src, dst, bytes, repeat);
                measure(probe, direction + " FC->FC", null, src, dst, fullyContiguous(src, dst, order), bytes, bulk, repeat);
                List<RegionPair> layerSeparate = layerSeparate(src, dst, order);
                measure(probe, direction + " LS->FC", CudaCopyExecutor.Path.BATCH, src, dst, layerSeparate, bytes, bulk, repeat);
                measure(probe, direction + " LS->FC", CudaCopyExecutor.Path.KERNEL, src, dst, layerSeparate, bytes,
                        bulk, repeat);
            }
        }
    }

    private static int[] shuffled(int n, long seed) {
        List<Integer> list = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            list.add(i);
        }
        java.util.Collections.shuffle(list, new Random(seed));
        return list.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Block i of the source to block order[i] of the destination, each one region. */
    private static List<RegionPair> fullyContiguous(Storage src, Storage dst, int[] order) {
        List<RegionPair> pairs = new ArrayList<>(order.length);
        for (int i = 0; i < order.length; i++) {
            pairs.add(new RegionPair(src.region().slice(i * BLOCK, BLOCK), dst.region().slice(order[i] * BLOCK, BLOCK)));
        }
        return pairs;
    }

    /**
     * The source as LayerSeparate: one span per layer holding every block's {@code OUTER} chunks of that layer,
     * chunks of a block and layer apart by one block stride (so nothing coalesces); the destination
     * FullyContiguous.
     */
    private static List<RegionPair> layerSeparate(Storage src, Storage dst, int[] order) {
        int blocks = order.length;
        long layerSpan = blocks * OUTER * CHUNK;
        List<RegionPair> pairs = new ArrayList<>(blocks * LAYERS * OUTER);
        for (int b = 0; b < blocks; b++) {
            for (int layer = 0; layer < LAYERS; layer++) {
                for (int o = 0; o < OUTER; o++) {
                    long from = layer * layerSpan + ((long) o * blocks + b) * CHUNK;
                    long to = order[b] * BLOCK + ((long) layer * OUTER + o) * CHUNK;
                    pairs.add(new RegionPair(src.region().slice(from, CHUNK), dst.region().slice(to, CHUNK)));
                }
            }
        }
        return pairs;
    }

    private static double bulk(CudaDriver driver, Storage src, Storage dst, long bytes, int repeat) {
        driver.makeCurrent(0);
        driver.memcpy(dst.region().address(), src.region().address(), bytes); // warm-up
        long best = Long.MAX_VALUE;
        for (int r = 0; r < repeat; r++) {
            long t0 = System.nanoTime();
            driver.memcpy(dst.region().address(), src.region().address(), bytes);
            best = Math.min(best, System.nanoTime() - t0);
        }
        return bytes / (double) best;
    }

    private static void measure(CudaDriver.Probe probe, String name, CudaCopyExecutor.Path path, Storage src,
                                Storage dst, List<RegionPair> pairs, long bytes, double bulk, int repeat) throws Exception {
        CudaCopyExecutor.Options options = CudaCopyExecutor.Options.fromSystemProperties();
        try (TransferExecutor executor = new CudaCopyExecutorProvider(probe, new CudaCopyExecutor.Options(path,
                options.kernelMinRegions(), options.kernelMaxAverageBytes(), options.stageBytes())).create()) {
            TransferBatch batch = new TransferBatch(src, dst, pairs);
            executor.execute(batch).get(5, TimeUnit.MINUTES); // warm-up: streams, kernel JIT
            long best = Long.MAX_VALUE;
            for (int r = 0; r < repeat; r++) {
                long t0 = System.nanoTime();
                executor.execute(batch).get(5, TimeUnit.MINUTES);
                best = Math.min(best, System.nanoTime() - t0);
            }
            double rate = bytes / (double) best;
            System.out.printf(Locale.ROOT, "%s | %s | %.1f | %.1f | %.2f%n", name,
                    path == null ? "auto" : path.name().toLowerCase(Locale.ROOT), rate, bulk, rate / bulk);
        }
    }
}
