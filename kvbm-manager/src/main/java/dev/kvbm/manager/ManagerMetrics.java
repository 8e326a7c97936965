package dev.kvbm.manager;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/** The manager's counters. Lock-free; every method may be called from any thread. */
final class ManagerMetrics implements KvbmMetrics {
    private static final int BLOCKS = 0;
    private static final int BYTES = 1;
    private static final int FAILURES = 2;
    private static final int SKIPPED = 3;
    private static final int DROPPED = 4;
    private static final int HOP_FIELDS = 5;
    private static final int CHANGED = 3; // in the pull counters, where nothing is skipped

    private final Map<Tier, BlockPool> pools;
    private final AtomicLong matchRequests = new AtomicLong();
    private final AtomicLong matchAsked = new AtomicLong();
    private final AtomicLongArray matchedPerTier = new AtomicLongArray(Tier.values().length);
    private final AtomicLongArray hops = new AtomicLongArray(Tier.values().length * Tier.values().length * HOP_FIELDS);
    private final AtomicLongArray pulls = new AtomicLongArray(4); // BLOCKS, BYTES, FAILURES, CHANGED

    ManagerMetrics(Map<Tier, BlockPool> pools) {
        this.pools = new EnumMap<>(pools);
    }

    void matched(int asked, int[] perTier) {
        matchRequests.incrementAndGet();
        matchAsked.addAndGet(asked);
        for (int t = 0; t < perTier.length; t++) {
            if (perTier[t] > 0) {
                matchedPerTier.addAndGet(t, perTier[t]);
            }
        }
    }

    void landed(Tier from, Tier to, long blocks, long bytes) {
        add(from, to, BLOCKS, blocks);
        add(from, to, BYTES, bytes);
    }

    void failed(Tier from, Tier to, long blocks) {
        add(from, to, FAILURES, blocks);
    }

    void skipped(Tier from, Tier to, long blocks) {
        add(from, to, SKIPPED, blocks);
    }

    void dropped(Tier from, Tier to, long blocks) {
        add(from, to, DROPPED, blocks);
    }

    void pulled(long blocks, long bytes) {
        pulls.addAndGet(BLOCKS, blocks);
        pulls.addAndGet(BYTES, bytes);
    }

    void pullChanged(long blocks) {
        pulls.addAndGet(CHANGED, blocks);
    }

    void pullFailed(long blocks) {
        pulls.addAndGet(FAILURES, blocks);
    }

    @Override
    public PullStats pulls() {
        return new PullStats(pulls.get(BLOCKS), pulls.get(BYTES), pulls.get(CHANGED), pulls.get(FAILURES));
    }

    private void add(Tier from, Tier to, int what, long n) {
        if (n != 0) {
            hops.addAndGet(index(from, to, what), n);
        }
    }

    private static int index(Tier from, Tier to, int what) {
        return (from.ordinal() * Tier.values().length + to.ordinal()) * HOP_FIELDS + what;
    }

    @Override
    public BlockPool.Stats tier(Tier tier) {
        BlockPool pool = pools.get(tier);
        if (pool == null) {
            throw new IllegalArgumentException("this manager has no tier " + tier + "; its tiers are "
                    + pools.keySet());
        }
        return pool.stats();
    }

    @Override
    public long matchRequests() {
        return matchRequests.get();
    }

    @Override
    public long matchAskedBlocks() {
        return matchAsked.get();
    }

    @Override
    public long matchedBlocks(Tier tier) {
        return matchedPerTier.get(tier.ordinal());
    }

    @Override
    public HopStats hop(Tier from, Tier to) {
        return new HopStats(hops.get(index(from, to, BLOCKS)), hops.get(index(from, to, BYTES)),
                hops.get(index(from, to, FAILURES)), hops.get(index(from, to, SKIPPED)),
                hops.get(index(from, to, DROPPED)));
    }

    @Override
    public List<Meter> meters() {
        List<Meter> out = new ArrayList<>();
        for (Tier t : pools.keySet()) {
            String tier = t.name();
            out.add(gauge("kvbm.blocks", Map.of("tier", tier, "state", "free"), "blocks holding nothing",
                    () -> tier(t).free()));
            out.add(gauge("kvbm.blocks", Map.of("tier", tier, "state", "active"), "blocks held by requests",
                    () -> tier(t).active()));
            out.add(gauge("kvbm.blocks", Map.of("tier", tier, "state", "inactive"),
                    "registered blocks no request holds, kept for reuse", () -> tier(t).inactive()));
            out.add(counter("kvbm.match.blocks", Map.of("tier", tier), "blocks found by match in this tier",
                    () -> matchedBlocks(t)));
        }
        out.add(counter("kvbm.match.requests", Map.of(), "match calls", this::matchRequests));
        out.add(counter("kvbm.match.asked", Map.of(), "blocks asked for by match", this::matchAskedBlocks));
        out.add(gauge("kvbm.match.hit.rate", Map.of(), "share of asked blocks found in any tier", this::hitRate));
        for (Tier from : pools.keySet()) {
            for (Tier to : pools.keySet()) {
                if (from == to || (to.ordinal() < from.ordinal() && to != Tier.G1)) {
                    continue;
                }
                Map<String, String> tags = Map.of("from", from.name(), "to", to.name(),
                        "direction", to.ordinal() > from.ordinal() ? "offload" : "onboard");
                out.add(counter("kvbm.transfer.blocks", tags, "blocks whose bytes landed",
                        () -> hop(from, to).blocks()));
                out.add(counter("kvbm.transfer.bytes", tags, "bytes landed", () -> hop(from, to).bytes()));
                out.add(counter("kvbm.transfer.failures", tags, "blocks whose copy failed",
                        () -> hop(from, to).failures()));
                out.add(counter("kvbm.transfer.skipped", tags, "blocks not copied: already there, or gone",
                        () -> hop(from, to).skipped()));
                out.add(counter("kvbm.transfer.dropped", tags, "blocks not copied: no room without evicting"
                        + " their own prefix", () -> hop(from, to).dropped()));
            }
        }
        out.add(counter("kvbm.pull.blocks", Map.of(), "blocks pulled from other workers that arrived",
                () -> pulls().blocks()));
        out.add(counter("kvbm.pull.bytes", Map.of(), "bytes pulled from other workers", () -> pulls().bytes()));
        out.add(counter("kvbm.pull.changed", Map.of(), "blocks refused: the other worker no longer held them",
                () -> pulls().changed()));
        out.add(counter("kvbm.pull.failures", Map.of(), "blocks whose pull failed", () -> pulls().failures()));
        return List.copyOf(out);
    }

    private static Meter gauge(String name, Map<String, String> tags, String description,
                               java.util.function.DoubleSupplier value) {
        return new Meter(name, tags, Meter.Type.GAUGE, description, value);
    }

    private static Meter counter(String name, Map<String, String> tags, String description,
                                 java.util.function.LongSupplier value) {
        return new Meter(name, tags, Meter.Type.COUNTER, description, () -> value.getAsLong());
    }
}
