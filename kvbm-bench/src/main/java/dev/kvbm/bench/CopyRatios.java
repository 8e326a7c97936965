package dev.kvbm.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;

import java.util.Collection;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs {@link BlockCopyBenchmark} and prints each copy's throughput as a fraction of the bulk-copy baseline
 * measured in the same run, next to its target. JMH command-line options (e.g. {@code -wi 2 -i 3}) are passed
 * through.
 */
public final class CopyRatios {

    private static final Map<String, Double> TARGETS = Map.of(
            "fullyContiguousToFullyContiguous", 0.90,
            "layerSeparateToFullyContiguous", 0.75);

    private CopyRatios() {
    }

    public static void main(String[] args) throws RunnerException, org.openjdk.jmh.runner.options.CommandLineOptionException {
        Options options = new OptionsBuilder()
                .parent(new CommandLineOptions(args))
                .include(BlockCopyBenchmark.class.getName() + ".*")
                .build();
        Collection<RunResult> results = new Runner(options).run();
        Map<String, Map<String, Double>> millis = new TreeMap<>(); // copyThreads -> benchmark -> ms/op
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark();
            millis.computeIfAbsent(r.getParams().getParam("copyThreads"), k -> new HashMap<>())
                    .put(name.substring(name.lastIndexOf('.') + 1), r.getPrimaryResult().getScore());
        }
        double gib = BlockCopyBenchmark.COPIED_BLOCKS * BlockCopyBenchmark.CONFIG.blockSize() / (double) (1L << 30);
        boolean allMet = true;
        for (Map.Entry<String, Map<String, Double>> run : millis.entrySet()) {
            Map<String, Double> ms = run.getValue();
            double bulk = ms.get("bulkCopy");
            System.out.printf(Locale.ROOT, "%nexecutor copyThreads=%s, 512 MiB per op, ratio = bulk ms / benchmark ms%n",
                    run.getKey());
            System.out.printf(Locale.ROOT, "%-36s %10s %10s %8s %s%n", "benchmark", "ms/op", "GiB/s", "ratio", "target");
            for (String name : new String[] {"bulkCopy", "bulkCopyTwoThreads", "fullyContiguousToFullyContiguous",
                    "layerSeparateToFullyContiguous"}) {
                double t = ms.get(name);
                double ratio = bulk / t;
                Double target = TARGETS.get(name);
                String verdict = name.equals("bulkCopy") ? "baseline (one MemorySegment.copy, one thread)"
                        : target == null ? "context" : ">= " + target + (ratio >= target ? " met" : " MISSED");
                if (target != null && run.getKey().equals("2")) {
                    allMet &= ratio >= target;
                }
                System.out.printf(Locale.ROOT, "%-36s %10.2f %10.2f %8.2f %s%n", name, t, gib / (t / 1000), ratio,
                        verdict);
            }
        }
        System.out.println(allMet ? "\nall targets met with the default executor" : "\nsome targets missed with the default executor");
    }
}
