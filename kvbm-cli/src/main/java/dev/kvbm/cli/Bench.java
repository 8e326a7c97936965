package dev.kvbm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvbm.bench.BenchResult;
import dev.kvbm.bench.BlockPoolBenchmark;
import dev.kvbm.bench.CopyRatios;
import dev.kvbm.bench.DiscoveryRatios;
import dev.kvbm.bench.DiskRatios;
import dev.kvbm.bench.PullRatios;
import dev.kvbm.bench.UcxRatios;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.category.DefaultCategoryDataset;
import org.jfree.svg.SVGGraphics2D;
import org.openjdk.jmh.results.BenchmarkResult;
import org.openjdk.jmh.results.IterationResult;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.awt.Rectangle;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code kvbm bench copy|agent|pool|pull|disk|discovery|cuda}: the benchmarks of the project, each printing the baseline it
 * measured in the same run and the ratio. {@code --json} prints one line per result instead (the benchmark's own
 * table goes to stderr); {@code --chart FILE.svg} draws the ratios with JFreeChart.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Run a benchmark next to its baseline, measured in the same run, and print the ratios.",
                "copy   256 random 2 MiB blocks through the executor vs one bulk copy",
                "agent  UCX READ/WRITE between two processes (raw memory and two managers' tiers) vs ucx_perftest"
                        + " (needs ucx-utils; --netns: across two network namespaces)",
                "pool   allocate+register+release and match per block vs a HashMap lookup (JMH)",
                "pull   a verified pull of a peer's blocks vs the unverified pull of the same blocks",
                "disk   the disk tier vs fio on the same directory (needs fio)",
                "discovery  how soon a SIGKILLed worker is seen gone (median, p99) vs the registry's TTL",
                "cuda   H2D/D2H/D2D copies vs one bulk cuMemcpy (needs a GPU)"},
        footerHeading = "%nExit codes:%n", footer = {"  0   ran (the table says whether targets were met)",
                "  1   the benchmark failed", "  64  bad usage"})
final class Bench implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** The benchmarks. */
    enum Which { copy, agent, pool, pull, disk, discovery, cuda }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(index = "0", paramLabel = "copy|agent|pool|pull|disk|discovery|cuda", description = "which benchmark")
    Which which;

    @Option(names = "--json", description = "one JSON line per result on stdout: bench, name, value, baseline, ratio,"
            + " unit")
    boolean json;

    @Option(names = "--chart", paramLabel = "FILE.svg", description = "draw the ratios to an SVG file")
    Path chart;

    @Option(names = "--rounds", paramLabel = "N", description = "rounds (copy, agent, pull, disk; each has its default;"
            + " discovery: workers killed, default 20)")
    Integer rounds;

    @Option(names = "--dir", paramLabel = "DIR", description = "disk: the directory to measure (default java.io.tmpdir)")
    Path dir;

    @Option(names = "--netns", description = "agent: the peer and perftest's server in a network namespace of their"
            + " own, over a veth pair, UCX on TCP for both (needs root)")
    boolean netns;

    @Option(names = "--etcd", paramLabel = "URLS", description = "discovery: measure etcd at URLS instead of the"
            + " embedded registry")
    String etcd;

    @Override
    public Integer call() throws Exception {
        if (rounds != null && (rounds < 1 || rounds > 1_000_000)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--rounds must be 1..1000000, got " + rounds);
        }
        if (netns && which != Which.agent) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--netns is an option of 'bench agent' only");
        }
        if (etcd != null && which != Which.discovery) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--etcd is an option of 'bench discovery'"
                    + " only");
        }
        List<BenchResult> results = new ArrayList<>();
        PrintStream stdout = System.out;
        if (json) {
            System.setOut(System.err); // the benchmark's own table goes to stderr; stdout carries the JSON lines
        }
        try {
            switch (which) {
                case copy -> CopyRatios.run(rounds == null ? new String[0] : new String[] {rounds.toString()},
                        results::add);
                case agent -> UcxRatios.run(new String[] {rounds == null ? "5" : rounds.toString(),
                        netns ? "netns" : "local"}, results::add);
                case disk -> DiskRatios.run(new String[] {rounds == null ? "5" : rounds.toString(),
                        (dir == null ? Path.of(System.getProperty("java.io.tmpdir")) : dir).toString()}, results::add);
                case pool -> pool(results);
                case pull -> PullRatios.run(rounds == null ? new String[0] : new String[] {rounds.toString()},
                        results::add);
                case discovery -> {
                    String kills = rounds == null ? "20" : rounds.toString();
                    DiscoveryRatios.run(etcd == null ? new String[] {kills} : new String[] {kills, "etcd", etcd},
                            results::add);
                }
                case cuda -> cuda();
            }
        } finally {
            System.setOut(stdout);
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            for (BenchResult r : results) {
                ObjectNode line = JSON.createObjectNode();
                line.put("bench", r.bench()).put("name", r.name()).put("value", r.value())
                        .put("baseline", r.baseline()).put("ratio", r.ratio()).put("unit", r.unit());
                out.println(JSON.writeValueAsString(line));
            }
            out.flush();
        }
        if (chart != null) {
            if (results.isEmpty()) {
                spec.commandLine().getErr().println("kvbm bench: " + which + " gave no results to chart");
                return 1;
            }
            drawChart(results, chart);
            spec.commandLine().getErr().println("kvbm bench: chart written to " + chart.toAbsolutePath());
        }
        return 0;
    }

    /**
     * The pool's JMH benchmark with its HashMap baselines in the same run: 2 forks of 5 half-second iterations each
     * (after 3 of warm-up), and of each benchmark the fastest iteration, the one least disturbed by whatever else
     * the machine ran (a shared 2-core machine spreads the means by tens of percent; the minimum holds within a few).
     */
    private static void pool(List<BenchResult> results) throws Exception {
        var options = new OptionsBuilder().include(BlockPoolBenchmark.class.getName() + ".*").forks(2)
                .warmupIterations(3).warmupTime(TimeValue.milliseconds(500)).measurementIterations(5)
                .measurementTime(TimeValue.milliseconds(500)).jvmArgsAppend("--enable-native-access=ALL-UNNAMED")
                .build();
        Map<String, Double> best = new HashMap<>();
        Map<String, Double> mean = new HashMap<>();
        for (RunResult r : new Runner(options).run()) {
            String method = r.getParams().getBenchmark();
            String name = method.substring(method.lastIndexOf('.') + 1);
            double fastest = Double.MAX_VALUE;
            for (BenchmarkResult fork : r.getBenchmarkResults()) {
                for (IterationResult it : fork.getIterationResults()) {
                    fastest = Math.min(fastest, it.getPrimaryResult().getScore());
                }
            }
            best.put(name, fastest);
            mean.put(name, r.getPrimaryResult().getScore());
        }
        results.addAll(poolRatios(best, mean, System.out));
    }

    /** A line of {@code kvbm bench pool}: a benchmark and the baseline it is divided by. */
    private record PoolLine(String benchmark, String label, String baseline) {
    }

    private static final List<PoolLine> POOL_LINES = List.of(
            new PoolLine("allocateRegisterRelease", "allocate + register + release (16 blocks)", "hashMapLookup16"),
            new PoolLine("matchOnly128", "match 128 blocks (release untimed)", "hashMapLookup128"),
            new PoolLine("match128", "match 128 blocks + release", "hashMapLookup128"),
            new PoolLine("matchShared128", "match 128 shared blocks + release", "hashMapLookup128"),
            new PoolLine("hashMapRemovePut16", "floor: HashMap remove + put", "hashMapLookup16"),
            new PoolLine("arrayPoolFloor16", "floor: least array pool, same workload", "hashMapLookup16"));

    /**
     * The pool's ratios from each benchmark's fastest iteration, printed with the means beside them.
     *
     * @param best benchmark method name to its fastest iteration, ns per block
     * @param mean benchmark method name to its mean, ns per block
     * @throws IllegalStateException naming the benchmarks the run did not give (one that failed, or a jar without
     *                               them), instead of a ratio of nothing
     */
    static List<BenchResult> poolRatios(Map<String, Double> best, Map<String, Double> mean, PrintStream out) {
        List<String> missing = POOL_LINES.stream().flatMap(l -> java.util.stream.Stream.of(l.benchmark(),
                l.baseline())).distinct().filter(n -> !best.containsKey(n) || !mean.containsKey(n)).toList();
        if (!missing.isEmpty()) {
            throw new IllegalStateException("the pool benchmark run gave no result for " + missing
                    + " (a benchmark that failed prints its error above); every line needs its benchmark and its"
                    + " baseline from the same run");
        }
        String unit = "ns per block, fastest iteration";
        out.printf(Locale.ROOT, "%nper block, fastest iteration (means in brackets), against one HashMap"
                + " lookup per block in the same run:%n");
        List<BenchResult> results = new ArrayList<>();
        for (PoolLine l : POOL_LINES) {
            double v = best.get(l.benchmark());
            double base = best.get(l.baseline());
            results.add(new BenchResult("pool", l.label(), v, base, v / base, unit));
            out.printf(Locale.ROOT, "%-44s %6.1f ns (%6.1f), lookup %4.1f ns (%4.1f): %4.1fx%n", l.label(), v,
                    mean.get(l.benchmark()), base, mean.get(l.baseline()), v / base);
        }
        return results;
    }

    /** The CUDA benchmark of kvbm-backend-cuda, on the class path with it (prints its own table). */
    private static void cuda() throws Exception {
        Class<?> benchmark;
        try {
            benchmark = Class.forName("dev.kvbm.backend.cuda.CudaCopyBenchmark");
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("kvbm-backend-cuda is not on the class path", e);
        }
        try {
            benchmark.getMethod("main", String[].class).invoke(null, (Object) new String[0]);
        } catch (java.lang.reflect.InvocationTargetException e) {
            throw e.getCause() instanceof Exception x ? x : new IllegalStateException(e.getCause());
        }
    }

    private static void drawChart(List<BenchResult> results, Path file) throws Exception {
        DefaultCategoryDataset data = new DefaultCategoryDataset();
        for (BenchResult r : results) {
            data.addValue(r.ratio(), "ratio to the baseline", r.name());
        }
        JFreeChart c = ChartFactory.createBarChart("kvbm bench " + results.getFirst().bench()
                + ": ratio to the baseline measured in the same run", null, "ratio", data, PlotOrientation.HORIZONTAL,
                false, true, false);
        int height = 120 + 36 * results.size();
        SVGGraphics2D g = new SVGGraphics2D(960, height);
        c.draw(g, new Rectangle(0, 0, 960, height));
        Files.writeString(file, g.getSVGDocument(), StandardCharsets.UTF_8);
    }
}
