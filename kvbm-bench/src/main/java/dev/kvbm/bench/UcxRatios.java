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
 * which a peer on the same host cannot map and reaches by a cross-process copy instead. A third, {@code manager},
 * moves between the tiers of two {@code KvBlockManager}s on the ucx agent, the initiator's G1 and the peer's G2, in
 * whatever memory the managers chose for them (issue 36: memory their peers map). Each round runs perftest, then
 * the agent; the ratio is computed per round and the median is printed with its spread (25th to 75th percentile).
 *
 * <p>The agent moves {@value #DESCRIPTORS_PER_TRANSFER} descriptors per transfer (every one posted as its own UCX
 * operation: they are not adjacent, so nothing is coalesced) and one flush per transfer, {@value #WINDOW} transfers
 * in flight, through the public {@code Agent} SPI with everything the agent does on the way (validation, holds,
 * completion futures).
 *
 * <p>Usage: {@code java --enable-native-access=ALL-UNNAMED -cp benchmarks.jar dev.kvbm.bench.UcxRatios [rounds
 * [netns]]} (default 5); needs {@code ucx_perftest} (Debian: ucx-utils) on the PATH. With {@code netns} (root, and
 * {@code ip} from iproute2) the peer and perftest's server run in a network namespace of their own, joined to this
 * one by a veth pair, and UCX is kept to TCP on that pair for both: the baseline is perftest over the same link.
 */
public final class UcxRatios {
    private static final long BUFFER = 64L << 20;
    private static final int DESCRIPTORS_PER_TRANSFER = 64;
    /** Transfers in flight at once, as a server with several requests has (perftest keeps messages in flight too). */
    private static final int WINDOW = 2;
    private static final Map<String, Double> TARGETS = Map.of("1 MiB", 0.8, "64 KiB", 0.6);
    /** The memory mode in which both ends are a KvBlockManager's own tiers. */
    static final String MANAGER = "manager";

    /**
     * Where the peer (and perftest's server) runs: this host's namespace, or a network namespace joined to it by a
     * veth pair, with UCX kept to TCP on the pair for the agents and perftest alike.
     */
    private record Link(String namespace, String here, String there, String peerAddress) {
        static final Link LOCAL = new Link(null, null, null, "127.0.0.1");

        boolean separate() {
            return namespace != null;
        }

        /** The command, run in the peer's namespace. */
        List<String> inPeer(List<String> command) {
            if (!separate()) {
                return command;
            }
            List<String> out = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
            out.addAll(command);
            return out;
        }

        /** UCX's settings for one side: TCP on its end of the pair (none on one host). */
        Map<String, String> ucx(boolean peerSide) {
            return separate() ? Map.of("TLS", "tcp", "NET_DEVICES", peerSide ? there : here) : Map.of();
        }

        ProcessBuilder builder(List<String> command, boolean peerSide) {
            ProcessBuilder b = new ProcessBuilder(peerSide ? inPeer(command) : command);
            ucx(peerSide).forEach((k, v) -> b.environment().put("UCX_" + k, v));
            return b;
        }

        Map<String, String> agentOptions() {
            Map<String, String> out = new java.util.HashMap<>();
            ucx(false).forEach((k, v) -> out.put("ucx." + k, v));
            return out;
        }
    }

    private static Link link = Link.LOCAL;

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
        boolean netns = args.length > 1 && args[1].equals("netns");
        if (!netns) {
            link = Link.LOCAL;
            return runAll(rounds, results);
        }
        String id = Long.toString(ProcessHandle.current().pid() % 100_000);
        link = new Link("kvbmbench" + id, "kvbh" + id, "kvbt" + id, "10.214.0.2");
        try {
            ip("netns", "add", link.namespace());
            ip("link", "add", link.here(), "type", "veth", "peer", "name", link.there());
            ip("link", "set", link.there(), "netns", link.namespace());
            ip("addr", "add", "10.214.0.1/24", "dev", link.here());
            ip("link", "set", link.here(), "up");
            ip("netns", "exec", link.namespace(), "ip", "addr", "add", "10.214.0.2/24", "dev", link.there());
            ip("netns", "exec", link.namespace(), "ip", "link", "set", link.there(), "up");
            ip("netns", "exec", link.namespace(), "ip", "link", "set", "lo", "up");
            System.out.println("between two network namespaces over a veth pair, UCX on TCP for the agents and"
                    + " perftest alike");
            return runAll(rounds, results);
        } finally {
            new ProcessBuilder("ip", "link", "del", link.here()).inheritIO().start().waitFor(30, TimeUnit.SECONDS);
            new ProcessBuilder("ip", "netns", "del", link.namespace()).inheritIO().start().waitFor(30,
                    TimeUnit.SECONDS);
            link = Link.LOCAL;
        }
    }

    private static void ip(String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed (it needs root): " + output.strip());
        }
    }

    private static boolean runAll(int rounds, java.util.function.Consumer<BenchResult> results) throws Exception {
        boolean met = true;
        for (String memory : new String[] {"ucx-host", MANAGER, "system-memory"}) {
            System.out.println("\nmemory on both sides: " + memory + switch (memory) {
                case "ucx-host" -> " (allocated by UCX, like perftest's: same-host peers map it)";
                case MANAGER -> " (a KvBlockManager's G1 reading and writing a peer manager's G2, in the memory"
                        + " the managers chose)";
                default -> " (the JVM's own allocation, registered with UCX: same-host peers copy across processes)";
            });
            boolean ok = run(memory, rounds, results);
            met &= ok || memory.equals("system-memory"); // the targets are for memory peers map
        }
        System.out.println(met ? "\nall targets met (ucx-host memory)" : "\nsome targets missed (ucx-host memory)");
        return met;
    }

    /**
     * A manager on the ucx agent whose {@code tier} (and a G1 of one block, when that is G2) holds {@code bytes} of
     * 1 MiB blocks, laid out FullyContiguous, in the host memory the manager picks for itself.
     */
    static dev.kvbm.manager.KvBlockManager manager(dev.kvbm.manager.Tier tier, long bytes,
                                                   Map<String, String> agentOptions) {
        dev.kvbm.manager.ModelShape shape = new dev.kvbm.manager.ModelShape(1, 1, 16, 32768, 2); // 1 MiB blocks
        var b = dev.kvbm.manager.KvBlockManager.builder().model(shape).agent("ucx")
                .agentOptions(new AgentProvider.Options(Duration.ofSeconds(30), agentOptions))
                .tier(dev.kvbm.manager.Tier.G1, (tier == dev.kvbm.manager.Tier.G1
                        ? dev.kvbm.manager.TierSpec.bytes(bytes) : dev.kvbm.manager.TierSpec.blocks(1))
                        .storage(StorageKind.SYSTEM));
        if (tier == dev.kvbm.manager.Tier.G2) {
            b.tier(dev.kvbm.manager.Tier.G2, dev.kvbm.manager.TierSpec.bytes(bytes));
        }
        return b.build();
    }

    static StorageProvider provider(Backends backends, String name) {
        return backends.storageProviders().stream().filter(p -> p.name().equals(name)).findFirst().orElseThrow();
    }

    private static boolean run(String memory, int rounds, java.util.function.Consumer<BenchResult> results)
            throws Exception {
        Backends backends = Backends.shared();
        AgentProvider ucx = backends.agentProvider("ucx");
        Process peer = startPeer(memory);
        boolean managed = memory.equals(MANAGER);
        dev.kvbm.manager.KvBlockManager kvbm = managed ? manager(dev.kvbm.manager.Tier.G1, BUFFER,
                link.agentOptions()) : null;
        try (Agent agent = managed ? null : ucx.create("bench-initiator-" + ProcessHandle.current().pid() + "-"
                + memory, new AgentProvider.Options(Duration.ofSeconds(30), link.agentOptions()));
             Storage local = managed ? null : provider(backends, memory).allocate(StorageKind.SYSTEM, BUFFER)) {
            Agent mover = managed ? kvbm.transport().agent().orElseThrow() : agent;
            MemoryRegion localRegion = managed ? kvbm.layout(dev.kvbm.manager.Tier.G1).storage().region()
                    : local.region();
            BufferedReader out = new BufferedReader(new InputStreamReader(peer.getInputStream(),
                    StandardCharsets.UTF_8));
            String[] ready = out.readLine().split(" ");
            MemoryRegion remote = new MemoryRegion(Long.parseLong(ready[2]), BUFFER);
            if (managed) {
                System.out.println("the initiator's G1 is " + kvbm.storageProvider(dev.kvbm.manager.Tier.G1)
                        + " memory, the peer's G2 " + ready[3] + " memory");
            } else {
                agent.register(local);
            }
            String name = mover.loadRemoteMetadata(HexFormat.of().parseHex(ready[1]));
            System.out.printf(Locale.ROOT, "%-6s %-7s %12s %12s %8s  %-16s %s%n", "op", "size", "perftest MB/s",
                    "agent MB/s", "ratio", "[p25, p75]", "target");
            boolean met = true;
            for (long size : new long[] {1 << 20, 64 << 10}) {
                for (AgentTransfer.Operation op : AgentTransfer.Operation.values()) {
                    long messages = Math.max(2048, (2L << 30) / size / 4);
                    measureAgent(mover, name, op, size, localRegion, remote, messages / 4); // warm-up
                    double[] ratios = new double[rounds];
                    double[] base = new double[rounds];
                    double[] ours = new double[rounds];
                    for (int r = 0; r < rounds; r++) {
                        base[r] = perftest(op, size, messages);
                        ours[r] = measureAgent(mover, name, op, size, localRegion, remote, messages);
                        ratios[r] = ours[r] / base[r];
                    }
                    String label = size >= 1 << 20 ? (size >> 20) + " MiB" : (size >> 10) + " KiB";
                    double median = percentile(ratios, 50);
                    double target = TARGETS.get(label);
                    met &= median >= target;
                    results.accept(new BenchResult("agent", op + " " + label + " (" + memory
                            + (link.separate() ? ", two namespaces" : "") + ")",
                            percentile(ours, 50), percentile(base, 50), median, "MB/s"));
                    System.out.printf(Locale.ROOT, "%-6s %-7s %12.0f %12.0f %8.2f  [%.2f, %.2f]      >= %.1f%s%n", op,
                            label, percentile(base, 50), percentile(ours, 50), median, percentile(ratios, 25),
                            percentile(ratios, 75), target, median >= target ? "" : "  (missed)");
                }
            }
            return met;
        } finally {
            if (kvbm != null) {
                kvbm.close();
            }
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
        Process server = link.builder(List.of("ucx_perftest", "-p", Integer.toString(port)), true)
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            for (int attempt = 0; attempt < 50; attempt++) {
                Process client = link.builder(List.of("ucx_perftest", link.peerAddress(), "-p",
                        Integer.toString(port), "-t", test, "-s", Long.toString(size), "-n", Long.toString(messages),
                        "-w", Long.toString(messages / 10)), false).redirectErrorStream(true).start();
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
        return link.builder(List.of(java.toString(), "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), UcxBenchPeer.class.getName(), Long.toString(BUFFER), memory),
                true).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    private static double percentile(double[] values, int p) {
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        return sorted[(int) Math.round((sorted.length - 1) * p / 100.0)];
    }
}
