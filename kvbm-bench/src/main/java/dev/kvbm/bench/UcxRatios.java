package dev.kvbm.bench;

import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentDescriptor;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.AgentTransfer;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.DescriptorList;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageProvider;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * READ and WRITE throughput of the {@code ucx} agent between two processes, as a ratio of {@code ucx_perftest}
 * ({@code ucp_get} and {@code ucp_put_bw}) run on the same machine in the same invocation, with the same message
 * sizes, the same transports (UCX's own choice; set {@code UCX_TLS} to force one for both), the same kind of memory
 * (allocated by UCX: {@code ucx-host} storage) and, like perftest, the same source and destination bytes for every
 * message. A second table does the same with the JVM's own memory ({@code system-memory}) registered with UCX,
 * which a peer on the same host cannot map and reaches by a cross-process copy instead. Each round runs perftest, then the agent; the ratio is
 * computed per round and the median is printed with its spread (25th to 75th percentile).
 *
 * <p>The agent moves {@value #DESCRIPTORS_PER_TRANSFER} descriptors per transfer (every one posted as its own UCX
 * operation: they are not adjacent, so nothing is coalesced) and one flush per transfer, {@value #WINDOW} transfers
 * in flight, through the public {@code Agent} SPI with everything the agent does on the way (validation, holds,
 * completion futures).
 *
 * <p>Usage: {@code java --enable-native-access=ALL-UNNAMED -cp benchmarks.jar dev.kvbm.bench.UcxRatios [rounds]}
 * (default 5); needs {@code ucx_perftest} (Debian: ucx-utils) on the PATH.
 */
public final class UcxRatios {
    private static final long BUFFER = 64L << 20;
    private static final int DESCRIPTORS_PER_TRANSFER = 64;
    /** Transfers in flight at once, as a server with several requests has (perftest keeps messages in flight too). */
    private static final int WINDOW = 2;
    private static final Map<String, Double> TARGETS = Map.of("1 MiB", 0.8, "64 KiB", 0.6);

    private UcxRatios() {
    }

    public static void main(String[] args) throws Exception {
        run(args, result -> { });
    }

    /**
     * Runs the benchmark, printing its tables, and hands each result to {@code results}.
     *
     * @param args    {@code [rounds]}
     * @param results receives every ratio measured
     * @return whether the targets were met (ucx-host memory)
     */
    public static boolean run(String[] args, java.util.function.Consumer<BenchResult> results) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
        boolean met = true;
        for (String memory : new String[] {"ucx-host", "system-memory"}) {
            System.out.println("\nmemory on both sides: " + memory + (memory.equals("ucx-host")
                    ? " (allocated by UCX, like perftest's: same-host peers map it)"
                    : " (the JVM's own allocation, registered with UCX: same-host peers copy across processes)"));
            boolean ok = run(memory, rounds, results);
            met &= ok || !memory.equals("ucx-host"); // the targets are for the memory perftest uses
        }
        System.out.println(met ? "\nall targets met (ucx-host memory)" : "\nsome targets missed (ucx-host memory)");
        return met;
    }

    static StorageProvider provider(Backends backends, String name) {
        return backends.storageProviders().stream().filter(p -> p.name().equals(name)).findFirst().orElseThrow();
    }

    private static boolean run(String memory, int rounds, java.util.function.Consumer<BenchResult> results)
            throws Exception {
        Backends backends = Backends.shared();
        AgentProvider ucx = backends.agentProvider("ucx");
        Process peer = startPeer(memory);
        try (Agent agent = ucx.create("bench-initiator-" + ProcessHandle.current().pid() + "-" + memory,
                new AgentProvider.Options(Duration.ofSeconds(30), Map.of()));
             Storage local = provider(backends, memory).allocate(StorageKind.SYSTEM, BUFFER)) {
            BufferedReader out = new BufferedReader(new InputStreamReader(peer.getInputStream(),
                    StandardCharsets.UTF_8));
            String[] ready = out.readLine().split(" ");
            MemoryRegion remote = new MemoryRegion(Long.parseLong(ready[2]), BUFFER);
            agent.register(local);
            String name = agent.loadRemoteMetadata(HexFormat.of().parseHex(ready[1]));
            System.out.printf(Locale.ROOT, "%-6s %-7s %12s %12s %8s  %-16s %s%n", "op", "size", "perftest MB/s",
                    "agent MB/s", "ratio", "[p25, p75]", "target");
            boolean met = true;
            for (long size : new long[] {1 << 20, 64 << 10}) {
                for (AgentTransfer.Operation op : AgentTransfer.Operation.values()) {
                    long messages = Math.max(2048, (2L << 30) / size / 4);
                    measureAgent(agent, name, op, size, local.region(), remote, messages / 4); // warm-up
                    double[] ratios = new double[rounds];
                    double[] base = new double[rounds];
                    double[] ours = new double[rounds];
                    for (int r = 0; r < rounds; r++) {
                        base[r] = perftest(op, size, messages);
                        ours[r] = measureAgent(agent, name, op, size, local.region(), remote, messages);
                        ratios[r] = ours[r] / base[r];
                    }
                    String label = size >= 1 << 20 ? (size >> 20) + " MiB" : (size >> 10) + " KiB";
                    double median = percentile(ratios, 50);
                    double target = TARGETS.get(label);
                    met &= median >= target;
                    results.accept(new BenchResult("agent", op + " " + label + " (" + memory + ")",
                            percentile(ours, 50), percentile(base, 50), median, "MB/s"));
                    System.out.printf(Locale.ROOT, "%-6s %-7s %12.0f %12.0f %8.2f  [%.2f, %.2f]      >= %.1f%s%n", op,
                            label, percentile(base, 50), percentile(ours, 50), median, percentile(ratios, 25),
                            percentile(ratios, 75), target, median >= target ? "" : "  (missed)");
                }
            }
            return met;
        } finally {
            peer.getOutputStream().close();
            if (!peer.waitFor(20, TimeUnit.SECONDS)) {
                peer.destroyForcibly();
            }
        }
    }

    /** Megabytes (10^6 bytes) per second moving {@code messages} messages of {@code size} bytes. */
    private static double measureAgent(Agent agent, String peer, AgentTransfer.Operation op, long size,
                                       MemoryRegion local, MemoryRegion remote, long messages) throws Exception {
        List<AgentDescriptor> l = new ArrayList<>();
        List<AgentDescriptor> r = new ArrayList<>();
        for (int i = 0; i < DESCRIPTORS_PER_TRANSFER; i++) {
            // The same bytes every time, like perftest; never adjacent to the previous descriptor, so not coalesced.
            l.add(new AgentDescriptor(new MemoryRegion(local.address(), size), 0));
            r.add(new AgentDescriptor(new MemoryRegion(remote.address(), size), 0));
        }
        AgentTransfer transfer = new AgentTransfer(op, new DescriptorList(MemType.DRAM, l), peer,
                new DescriptorList(MemType.DRAM, r), null);
        long transfers = Math.max(WINDOW, messages / DESCRIPTORS_PER_TRANSFER);
        java.util.ArrayDeque<java.util.concurrent.CompletableFuture<Void>> inFlight = new java.util.ArrayDeque<>();
        long start = System.nanoTime();
        for (long t = 0; t < transfers; t++) {
            if (inFlight.size() == WINDOW) {
                inFlight.removeFirst().get(60, TimeUnit.SECONDS);
            }
            inFlight.addLast(agent.post(transfer));
        }
        while (!inFlight.isEmpty()) {
            inFlight.removeFirst().get(60, TimeUnit.SECONDS);
        }
        long nanos = System.nanoTime() - start;
        return transfers * DESCRIPTORS_PER_TRANSFER * size / (nanos / 1e9) / 1e6;
    }

    /** {@code ucx_perftest}'s overall bandwidth, MB/s, for the same operation, size and message count. */
    private static double perftest(AgentTransfer.Operation op, long size, long messages) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String test = op == AgentTransfer.Operation.READ ? "ucp_get" : "ucp_put_bw";
        Process server = new ProcessBuilder("ucx_perftest", "-p", Integer.toString(port))
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            for (int attempt = 0; attempt < 50; attempt++) {
                Process client = new ProcessBuilder("ucx_perftest", "127.0.0.1", "-p", Integer.toString(port),
                        "-t", test, "-s", Long.toString(size), "-n", Long.toString(messages), "-w",
                        Long.toString(messages / 10)).redirectErrorStream(true).start();
                String output = new String(client.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                client.waitFor();
                for (String line : output.split("\n")) {
                    if (line.startsWith("Final:")) {
                        String[] f = line.trim().split("\\s+");
                        return Double.parseDouble(f[6]); // bandwidth, overall
                    }
                }
                Thread.sleep(100); // the server was not listening yet
            }
            throw new IOException("ucx_perftest gave no result");
        } finally {
            server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static Process startPeer(String memory) throws IOException {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        return new ProcessBuilder(java.toString(), "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), UcxBenchPeer.class.getName(), Long.toString(BUFFER), memory)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    private static double percentile(double[] values, int p) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[(int) Math.round((sorted.length - 1) * p / 100.0)];
    }
}
