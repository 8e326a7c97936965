package dev.kvbm.manager;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.DoubleSupplier;

/**
 * What a serving operator watches, read live from a {@link KvBlockManager}: blocks per tier, the hit rate of
 * prefix matching, and the blocks, bytes and failures of every hop between tiers. Nothing is printed; a caller
 * polls these methods or binds {@link #meters()} to its registry, e.g. with Micrometer:
 *
 * {@snippet :
 * for (KvbmMetrics.Meter m : kvbm.metrics().meters()) {
 *     if (m.type() == KvbmMetrics.Meter.Type.COUNTER) {
 *         FunctionCounter.builder(m.name(), m, x -> x.value().getAsDouble()).tags(Tags.of(...)).register(registry);
 *     } else {
 *         Gauge.builder(m.name(), m.value()).tags(Tags.of(...)).register(registry);
 *     }
 * }
 * }
 */
public interface KvbmMetrics {

    /**
     * The blocks of one tier right now.
     *
     * @param tier a tier of the manager
     * @return free, active and inactive counts
     * @throws IllegalArgumentException when the manager has no such tier
     */
    BlockPool.Stats tier(Tier tier);

    /** {@return calls of {@link KvBlockManager#match}} */
    long matchRequests();

    /** {@return blocks asked for by {@link KvBlockManager#match} (every hash of every call)} */
    long matchAskedBlocks();

    /**
     * Blocks {@link KvBlockManager#match} found in one tier.
     *
     * @param tier the tier
     * @return blocks found there
     */
    long matchedBlocks(Tier tier);

    /** {@return the share of asked blocks found in any tier, 0 before the first match} */
    default double hitRate() {
        long asked = matchAskedBlocks();
        if (asked == 0) {
            return 0;
        }
        long hits = 0;
        for (Tier t : Tier.values()) {
            hits += matchedBlocks(t);
        }
        return (double) hits / asked;
    }

    /**
     * Copies from one tier to another so far.
     *
     * @param from the tier copied from
     * @param to   the tier copied to
     * @return blocks copied, their bytes, blocks that failed, blocks skipped (already there, or gone) and blocks
     *         dropped (no room)
     */
    HopStats hop(Tier from, Tier to);

    /** {@return every copy to a lower tier (offload and write-back on eviction), summed} */
    default HopStats offloads() {
        HopStats sum = HopStats.ZERO;
        for (Tier from : Tier.values()) {
            for (Tier to : Tier.values()) {
                if (to.ordinal() > from.ordinal()) {
                    sum = sum.plus(hop(from, to));
                }
            }
        }
        return sum;
    }

    /** {@return every copy up to G1 (onboard), summed} */
    default HopStats onboards() {
        return hop(Tier.G2, Tier.G1).plus(hop(Tier.G3, Tier.G1));
    }

    /** {@return blocks pulled from other workers' memory into G1 so far} */
    PullStats pulls();

    /** {@return every figure above as a named meter with tags, for a metrics registry} */
    List<Meter> meters();

    /**
     * Blocks pulled from other workers.
     *
     * @param blocks   blocks whose bytes arrived (verified, when the pull verified them)
     * @param bytes    their bytes
     * @param changed  blocks a verified pull refused: the peer no longer held them as expected
     * @param failures blocks whose copy failed
     */
    record PullStats(long blocks, long bytes, long changed, long failures) {
    }

    /**
     * The copies of one hop.
     *
     * @param blocks   blocks whose bytes landed
     * @param bytes    their bytes
     * @param failures blocks whose copy failed (they were not registered in the destination)
     * @param skipped  blocks not copied because they need no copy: already in the destination, or evicted before
     *                 their turn (their eviction wrote them down)
     * @param dropped  blocks not copied for want of room: the destination had no block to spare without evicting
     *                 the prefix being written, so the tail of that prefix stays out of it
     */
    record HopStats(long blocks, long bytes, long failures, long skipped, long dropped) {
        /** Nothing yet. */
        public static final HopStats ZERO = new HopStats(0, 0, 0, 0, 0);

        /**
         * Adds two.
         *
         * @param o the other
         * @return the sum
         */
        public HopStats plus(HopStats o) {
            return new HopStats(blocks + o.blocks, bytes + o.bytes, failures + o.failures, skipped + o.skipped,
                    dropped + o.dropped);
        }
    }

    /**
     * One figure, named in the dotted style of Micrometer ({@code kvbm.blocks}, {@code kvbm.transfer.bytes}).
     *
     * @param name        the meter's name
     * @param tags        its dimensions, e.g. {@code tier=G2, state=inactive}
     * @param type        a counter (only grows) or a gauge
     * @param description what it counts
     * @param value       reads its current value
     */
    record Meter(String name, Map<String, String> tags, Type type, String description, DoubleSupplier value) {
        /** Whether a meter only grows. */
        public enum Type {
            /** Only grows. */
            COUNTER,
            /** Goes up and down. */
            GAUGE
        }

        /** Checks nothing is null and copies the tags. */
        public Meter {
            Objects.requireNonNull(name, "name");
            tags = Map.copyOf(tags);
            Objects.requireNonNull(type, "type");
            Objects.requireNonNull(description, "description");
            Objects.requireNonNull(value, "value");
        }
    }
}
