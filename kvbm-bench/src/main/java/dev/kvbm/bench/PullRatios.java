package dev.kvbm.bench;

import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.manager.BlockPool;
import dev.kvbm.manager.ImmutableBlock;
import dev.kvbm.manager.KvBlockManager;
import dev.kvbm.manager.ModelShape;
import dev.kvbm.manager.MutableBlock;
import dev.kvbm.manager.PullResult;
import dev.kvbm.manager.RemoteBlocks;
import dev.kvbm.manager.Tier;
import dev.kvbm.manager.TierSpec;
import dev.kvbm.manager.TokenBlockSequence;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.function.Consumer;
import java.util.stream.IntStream;

/**
 * What verifying a pull costs: {@code KvBlockManager.pull(remote, sequence, firstBlock)}, which reads each block's
 * state at the peer before and after its bytes, as a ratio of the unverified {@code pull(remote)} of the same
 * blocks followed by what the engine then does itself (complete and register them), in the same run. Two workers
 * in this JVM, the peer holding still; over the {@code local} agent and over the {@code ucx} agent (within one
 * process UCX picks its shared-memory transports). Blocks of 64 KiB and 2 MiB, pulls of 1 and 16 blocks. Baseline
 * and subject alternate in short rounds, the ratio (baseline time / verified time, so 1 means free) is taken per
 * round, and the median is printed with its spread (25th to 75th percentile).
 *
 * <p>Usage: {@code java --enable-native-access=ALL-UNNAMED -cp benchmarks.jar dev.kvbm.bench.PullRatios [rounds]}
 * (default 15).
 */
public final class PullRatios {
    private static final int PEER_BLOCKS = 32;
    private static final long ROUND_NANOS = 100_000_000L;

    private PullRatios() {
    }

    public static void main(String[] args) throws Exception {
        run(args, result -> { });
    }

    /**
     * Runs the benchmark, printing its table, and hands each result to {@code results}.
     *
     * @param args    {@code [rounds]}
     * @param results receives every ratio measured
     */
    public static void run(String[] args, Consumer<BenchResult> results) {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 15;
        Backends backends = Backends.shared();
        System.out.printf(Locale.ROOT, "%-6s %-7s %-7s %12s %12s  %s%n", "agent", "block", "blocks", "verified",
                "unverified", "ratio, median [p25, p75]");
        for (String agent : List.of("local", "ucx")) {
            AgentProvider provider = backends.agentProviders().stream().filter(p -> p.name().equals(agent))
                    .findFirst().orElse(null);
            if (provider == null || provider.unavailabilityCause().isPresent()) {
                System.out.println(agent + ": not available here ("
                        + (provider == null ? "no such agent" : provider.unavailabilityCause().get().getMessage())
                        + ")");
                continue;
            }
            for (ModelShape shape : List.of(new ModelShape(4, 2, 4, 1024, 2), new ModelShape(32, 2, 16, 1024, 2))) {
                measure(backends, agent, shape, rounds, results);
            }
        }
    }

    private static void measure(Backends backends, String agent, ModelShape shape, int rounds,
                                Consumer<BenchResult> results) {
        try (KvBlockManager peer = manager(backends, agent, 1, shape, 2 * PEER_BLOCKS);
             KvBlockManager self = manager(backends, agent, 2, shape, PEER_BLOCKS)) {
            TokenBlockSequence seq = TokenBlockSequence.of(IntStream.range(0, PEER_BLOCKS * shape.pageSize())
                    .toArray(), shape.pageSize(), 1337);
            List<MutableBlock> made = peer.allocate(PEER_BLOCKS);
            List<MutableBlock> complete = new ArrayList<>();
            for (int i = 0; i < PEER_BLOCKS; i++) {
                complete.add(made.get(i).complete(seq, i));
            }
            List<ImmutableBlock> held = peer.register(complete); // held throughout: nothing changes at the peer
            self.importBlockSets(peer.exportBlockSets());
            String block = shape.blockBytes() >= 1 << 20 ? (shape.blockBytes() >> 20) + " MiB"
                    : (shape.blockBytes() >> 10) + " KiB";
            for (int n : new int[] {1, 16}) {
                RemoteBlocks remote = self.remoteBlocks(peer.handle(Tier.G1),
                        held.subList(0, n).stream().mapToInt(ImmutableBlock::blockId).toArray());
                Runnable unverified = () -> {
                    List<MutableBlock> pulled = self.pull(remote).join();
                    for (int i = 0; i < n; i++) {
                        pulled.get(i).complete(seq, i);
                    }
                    KvBlockManager.release(self.register(pulled));
                };
                Runnable verified = () -> {
                    try (PullResult r = self.pull(remote, seq, 0).join()) {
                        if (r.pulled().size() != n) {
                            throw new IllegalStateException("a verified pull from a peer holding still refused "
                                    + r.failures());
                        }
                    }
                };
                int per = calibrate(unverified, verified);
                double[] ratios = new double[rounds];
                double verifiedNanos = 0;
                double unverifiedNanos = 0;
                for (int r = 0; r < rounds; r++) {
                    double b1 = time(unverified, per);
                    double v1 = time(verified, per);
                    double v2 = time(verified, per);
                    double b2 = time(unverified, per);
                    ratios[r] = (b1 + b2) / (v1 + v2);
                    verifiedNanos += v1 + v2;
                    unverifiedNanos += b1 + b2;
                }
                double verifiedRate = 2.0 * rounds * per * n * 1e9 / verifiedNanos; // blocks per second
                double unverifiedRate = 2.0 * rounds * per * n * 1e9 / unverifiedNanos;
                System.out.printf(Locale.ROOT, "%-6s %-7s %-7d %9.0f/s %9.0f/s  %s%n", agent, block, n,
                        verifiedRate, unverifiedRate, CopyRatios.spread(ratios));
                results.accept(new BenchResult("pull", String.format(Locale.ROOT, "%s %s x%d verified", agent,
                        block, n), verifiedRate, unverifiedRate, CopyRatios.median(ratios), "blocks/s"));
            }
            KvBlockManager.release(held);
        }
    }

    private static KvBlockManager manager(Backends backends, String agent, long id, ModelShape shape, int blocks) {
        return KvBlockManager.builder().model(shape).backends(backends).agent(agent).workerId(id)
                .duplicates(BlockPool.Duplicates.REFUSE).tier(Tier.G1, TierSpec.blocks(blocks)).build();
    }

    /** Warms both up for a second, then {@return how many calls of the slower one take about a round} */
    private static int calibrate(Runnable a, Runnable b) {
        long end = System.nanoTime() + 1_000_000_000L;
        int calls = 0;
        while (System.nanoTime() < end) {
            a.run();
            b.run();
            calls++;
        }
        double each = Math.max(time(a, calls), time(b, calls)) / calls;
        return (int) Math.max(1, ROUND_NANOS / each);
    }

    private static double time(Runnable op, int calls) {
        long start = System.nanoTime();
        for (int i = 0; i < calls; i++) {
            op.run();
        }
        return System.nanoTime() - start;
    }
}
