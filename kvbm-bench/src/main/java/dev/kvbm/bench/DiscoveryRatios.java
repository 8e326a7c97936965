package dev.kvbm.bench;

import dev.kvbm.api.spi.Discovery;
import dev.kvbm.api.spi.DiscoveryProvider;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * How soon a killed worker is seen gone: worker processes register with a discovery provider, each is killed with
 * SIGKILL (so it withdraws nothing) one at a time, and a watch in this process times the kill to its {@code left}
 * event. Reported: the median and the 99th percentile (the largest, below 100 kills) of that latency against the
 * provider's TTL, the figure a user is promised ("seen gone within the TTL plus a heartbeat"), as ratios. The
 * embedded registry also notices at once that an entry's process is gone, so its figure is usually far below its
 * TTL; etcd's is the lease's expiry.
 *
 * <p>Usage: {@code java --enable-native-access=ALL-UNNAMED -cp benchmarks.jar dev.kvbm.bench.DiscoveryRatios
 * [kills] [embedded|etcd] [endpoints]} (default 20 kills of the embedded registry in a temporary directory).
 */
public final class DiscoveryRatios {
    private static final int STARTED_AT_ONCE = 4;
    /** How many TTLs a kill may take to be noticed before the run fails. */
    private static final int GIVE_UP_TTLS = 30;

    private DiscoveryRatios() {
    }

    public static void main(String[] args) throws Exception {
        run(args, result -> { });
    }

    /**
     * Runs the benchmark, printing its table, and hands each result to {@code results}.
     *
     * @param args    {@code [kills] [provider] [endpoints]}
     * @param results receives the median and the 99th percentile, each against the TTL
     */
    public static void run(String[] args, Consumer<BenchResult> results) throws Exception {
        int kills = args.length > 0 ? Integer.parseInt(args[0]) : 20;
        if (kills < 1) {
            throw new IllegalArgumentException("kills must be at least 1, got " + kills);
        }
        String provider = args.length > 1 ? args[1] : "embedded";
        Path scratch = null;
        String endpoints;
        if (args.length > 2) {
            endpoints = args[2];
        } else if (provider.equals("embedded")) {
            scratch = Files.createTempDirectory("kvbm-bench-discovery");
            endpoints = scratch.toString();
        } else {
            throw new IllegalArgumentException("give the endpoints of " + provider + ", e.g. http://127.0.0.1:2379");
        }
        Duration ttl = provider.equals("embedded") ? Duration.ofSeconds(1) : Duration.ofSeconds(2);
        String namespace = "bench-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        Map<Long, Long> joined = new ConcurrentHashMap<>();
        Map<Long, Long> left = new ConcurrentHashMap<>();
        long[] latencies = new long[kills];
        List<Process> victims = new ArrayList<>();
        try (Discovery watcher = DiscoveryProvider.named(provider).connect(DiscoveryProvider.Options.of(namespace,
                endpoints).withTtl(ttl));
             Discovery.Watch watch = watcher.watch(new Discovery.Listener() {
                 @Override
                 public void joined(Discovery.WorkerEntry e) {
                     joined.put(e.workerId(), System.nanoTime());
                 }

                 @Override
                 public void changed(Discovery.WorkerEntry e) {
                 }

                 @Override
                 public void left(Discovery.WorkerEntry e) {
                     left.put(e.workerId(), System.nanoTime());
                 }
             })) {
            for (int k = 0; k < kills; k++) {
                if (k % STARTED_AT_ONCE == 0) { // start the next few while none is being timed
                    for (int j = k; j < Math.min(kills, k + STARTED_AT_ONCE); j++) {
                        victims.add(start(provider, endpoints, namespace, ttl, j + 1));
                    }
                    for (int j = k; j < Math.min(kills, k + STARTED_AT_ONCE); j++) {
                        awaitReady(victims.get(j), j + 1);
                    }
                }
                long id = k + 1;
                await(() -> joined.containsKey(id), ttl, "worker " + id + " to be seen joining");
                victims.get(k).destroyForcibly(); // SIGKILL: it withdraws nothing
                long killed = System.nanoTime();
                await(() -> left.containsKey(id), ttl, "killed worker " + id + " to be seen gone");
                latencies[k] = left.get(id) - killed;
                victims.get(k).waitFor(30, TimeUnit.SECONDS);
            }
        } finally {
            for (Process p : victims) {
                p.destroyForcibly();
            }
            if (scratch != null) {
                deleteTree(scratch);
            }
        }
        long[] sorted = latencies.clone();
        Arrays.sort(sorted);
        double ttlMs = ttl.toMillis();
        double p50 = sorted[(sorted.length - 1) / 2] / 1e6;
        double p99 = sorted[(int) Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] / 1e6;
        System.out.printf(Locale.ROOT, "%s: %d workers killed with SIGKILL, one at a time, TTL %d ms%n", provider,
                kills, ttl.toMillis());
        System.out.printf(Locale.ROOT, "  kill -> seen gone, median %8.1f ms = %.2f x TTL%n", p50, p50 / ttlMs);
        System.out.printf(Locale.ROOT, "  kill -> seen gone, p99    %8.1f ms = %.2f x TTL (min %.1f ms, max %.1f"
                + " ms)%n", p99, p99 / ttlMs, sorted[0] / 1e6, sorted[sorted.length - 1] / 1e6);
        results.accept(new BenchResult("discovery", provider + ": killed worker seen gone, median", p50, ttlMs,
                p50 / ttlMs, "ms, against the TTL"));
        results.accept(new BenchResult("discovery", provider + ": killed worker seen gone, p99", p99, ttlMs,
                p99 / ttlMs, "ms, against the TTL"));
    }

    private static Process start(String provider, String endpoints, String namespace, Duration ttl, long id)
            throws IOException {
        String classPath = System.getProperty("java.class.path") + File.pathSeparator
                + System.getProperty("jdk.module.path", "");
        return new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx64m", "-XX:TieredStopAtLevel=1", "-cp", classPath,
                Victim.class.getName(), provider, endpoints, namespace, Long.toString(ttl.toMillis()),
                Long.toString(id)).redirectError(ProcessBuilder.Redirect.DISCARD).start();
    }

    private static void awaitReady(Process p, long id) throws IOException {
        BufferedReader out = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line = out.readLine();
        if (line == null || !line.equals("READY")) {
            p.destroyForcibly();
            throw new IllegalStateException("victim worker " + id + " did not start (it printed " + line + ")");
        }
    }

    private static void await(java.util.function.BooleanSupplier condition, Duration ttl, String what)
            throws InterruptedException {
        long deadline = System.nanoTime() + GIVE_UP_TTLS * ttl.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("gave up waiting for " + what + " after " + GIVE_UP_TTLS + " TTLs");
            }
            Thread.sleep(1);
        }
    }

    private static void deleteTree(Path root) throws IOException {
        try (var paths = Files.walk(root)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** A worker that registers and waits to be killed. */
    public static final class Victim {
        private Victim() {
        }

        /**
         * Registers worker {@code id}, prints {@code READY}, and serves until killed or its standard input ends.
         *
         * @param args provider, endpoints, namespace, TTL in ms, worker id
         */
        public static void main(String[] args) throws Exception {
            try (Discovery d = DiscoveryProvider.named(args[0]).connect(DiscoveryProvider.Options.of(args[2],
                    args[1]).withTtl(Duration.ofMillis(Long.parseLong(args[3]))))) {
                d.register(new Discovery.WorkerEntry(Long.parseLong(args[4]), "victim-" + args[4], new byte[0]));
                System.out.println("READY");
                System.out.flush();
                while (System.in.read() >= 0) {
                    // until killed
                }
            }
        }
    }
}
