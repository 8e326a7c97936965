package dev.kvbm.bench;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Each copy's throughput as a ratio of a bulk copy of the same bytes, measured so that a re-run says the same
 * thing: baseline and subject alternate in short rounds (baseline, subject, subject, baseline), the ratio is
 * computed per round so that drift of the machine hits both sides of it, and the median ratio is printed with its
 * spread (25th to 75th percentile over the rounds). Two baselines: one bulk {@code MemorySegment.copy} on one
 * thread (the reference of the targets), and a bulk copy on as many threads as the executor has (the
 * same-thread-count comparison). The state is {@link BlockCopyBenchmark}'s: 256 random 2 MiB blocks, 512 MiB.
 *
 * <p>Usage: {@code java --enable-native-access=ALL-UNNAMED -cp benchmarks.jar dev.kvbm.bench.CopyRatios [rounds]}
 * (default 30 rounds per executor thread count).
 */
public final class CopyRatios {

    private static final Map<String, Double> TARGETS = Map.of(
            "fullyContiguousToFullyContiguous", 0.90,
            "layerSeparateToFullyContiguous", 0.75);

    private CopyRatios() {
    }

    public static void main(String[] args) throws Exception {
        run(args, result -> { });
    }

    /**
     * Runs the benchmark, printing its table, and hands each result to {@code results}.
     *
     * @param args    {@code [rounds]}
     * @param results receives every ratio measured
     * @return whether the targets were met with the default executor
     */
    public static boolean run(String[] args, java.util.function.Consumer<BenchResult> results) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        boolean allMet = true;
        for (int threads : new int[] {2, 1}) {
            BlockCopyBenchmark state = new BlockCopyBenchmark();
            state.copyThreads = threads;
            state.setUp();
            try {
                allMet &= measure(state, threads, rounds, results);
            } finally {
                state.tearDown();
            }
        }
        System.out.println(allMet ? "\nall targets met with the default executor (2 threads)"
                : "\nsome targets missed with the default executor (2 threads)");
        return allMet;
    }

    private interface Op {
        void run() throws Exception;
    }

    private static boolean measure(BlockCopyBenchmark s, int threads, int rounds,
                                   java.util.function.Consumer<BenchResult> results) throws Exception {
        Op bulk = s::bulkCopy;
        Op bulkSameThreads = threads == 2 ? s::bulkCopyTwoThreads : s::bulkCopy;
        Map<String, Op> subjects = new LinkedHashMap<>();
        subjects.put("fullyContiguousToFullyContiguous", s::fullyContiguousToFullyContiguous);
        subjects.put("layerSeparateToFullyContiguous", s::layerSeparateToFullyContiguous);
        if (threads == 2) {
            subjects.put("bulkCopyTwoThreads", s::bulkCopyTwoThreads);
        }
        for (int i = 0; i < 5; i++) { // warm-up: JIT, page faults of the destination
            bulk.run();
            for (Op op : subjects.values()) {
                op.run();
            }
        }
        Map<String, double[]> vsBulk = new LinkedHashMap<>();
        Map<String, double[]> vsSameThreads = new LinkedHashMap<>();
        Map<String, double[]> millis = new LinkedHashMap<>();
        for (String name : subjects.keySet()) {
            vsBulk.put(name, new double[rounds]);
            vsSameThreads.put(name, new double[rounds]);
            millis.put(name, new double[rounds]);
        }
        double[] bulkMillis = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            for (Map.Entry<String, Op> e : subjects.entrySet()) {
                Op subject = e.getValue();
                double b1 = time(bulk);
                double t1 = time(subject);
                double n1 = time(bulkSameThreads);
                double n2 = time(bulkSameThreads);
                double t2 = time(subject);
                double b2 = time(bulk);
                double t = (t1 + t2) / 2;
                vsBulk.get(e.getKey())[r] = (b1 + b2) / 2 / t;
                vsSameThreads.get(e.getKey())[r] = (n1 + n2) / 2 / t;
                millis.get(e.getKey())[r] = t;
                bulkMillis[r] = (b1 + b2) / 2;
            }
        }
        double gib = BlockCopyBenchmark.COPIED_BLOCKS * BlockCopyBenchmark.CONFIG.blockSize() / (double) (1L << 30);
        System.out.printf(Locale.ROOT, "%nexecutor copyThreads=%d, 512 MiB per copy, %d rounds; ratio = baseline time"
                + " / subject time, median [p25, p75]%n", threads, rounds);
        System.out.printf(Locale.ROOT, "%-34s %8s %7s %22s %22s  %s%n", "copy", "ms", "GiB/s", "vs bulk (1 thread)",
                "vs bulk (" + threads + " thr)", "target");
        double bulkMs = median(bulkMillis);
        System.out.printf(Locale.ROOT, "%-34s %8.1f %7.2f %22s %22s  %s%n", "bulkCopy (baseline)", bulkMs,
                gib / (bulkMs / 1000), "1", "", "");
        boolean met = true;
        for (String name : subjects.keySet()) {
            double ms = median(millis.get(name));
            double ratio = median(vsBulk.get(name));
            Double target = TARGETS.get(name);
            String verdict = target == null ? "context" : ">= " + target + (ratio >= target ? " met" : " MISSED");
            met &= target == null || ratio >= target;
            results.accept(new BenchResult("copy", name + " (" + threads + " copy threads)", gib / (ms / 1000),
                    gib / (bulkMs / 1000), ratio, "GiB/s"));
            System.out.printf(Locale.ROOT, "%-34s %8.1f %7.2f %22s %22s  %s%n", name, ms, gib / (ms / 1000),
                    spread(vsBulk.get(name)), name.startsWith("bulk") ? "" : spread(vsSameThreads.get(name)),
                    verdict);
        }
        return threads != 2 || met;
    }

    private static double time(Op op) throws Exception {
        long start = System.nanoTime();
        op.run();
        return (System.nanoTime() - start) / 1e6;
    }

    static String spread(double[] values) {
        return String.format(Locale.ROOT, "%.2f [%.2f, %.2f]", median(values), percentile(values, 25),
                percentile(values, 75));
    }

    static double median(double[] values) {
        return percentile(values, 50);
    }

    private static double percentile(double[] values, int p) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        double at = (sorted.length - 1) * p / 100.0;
        int low = (int) Math.floor(at);
        int high = (int) Math.ceil(at);
        return sorted[low] + (sorted[high] - sorted[low]) * (at - low);
    }
}
