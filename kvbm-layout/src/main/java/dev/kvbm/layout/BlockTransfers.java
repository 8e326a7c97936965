package dev.kvbm.layout;

import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.spi.RegionPair;

import java.util.ArrayList;
import java.util.List;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Turns "copy these blocks of one layout into those blocks of another" into region pairs for a
 * {@link dev.kvbm.api.spi.TransferBatch}.
 *
 * <p>Whole blocks between two FullyContiguous layouts become one pair per block; every other combination (or a
 * layer range) becomes one pair per (block, layer, outer), which the batch's coalescing merges where both sides
 * are adjacent. Validation happens before any pair is produced: equal list lengths, ids in range, no destination
 * block named twice, within one layout no block both read and written, and layouts whose layers, outer dimension
 * and region size agree.
 */
public final class BlockTransfers {

    private BlockTransfers() {
    }

    /**
     * Plans a copy of whole blocks.
     *
     * @param src       the layout copied from
     * @param srcBlocks block ids in {@code src}, none twice
     * @param dst       the layout copied to, with the same layers, outer dimension and region size
     * @param dstBlocks block ids in {@code dst}, as many as {@code srcBlocks}, none twice
     * @return pairs that copy every layer of {@code srcBlocks[i]} to {@code dstBlocks[i]}
     */
    public static List<RegionPair> plan(Layout src, int[] srcBlocks, Layout dst, int[] dstBlocks) {
        return plan(src, srcBlocks, dst, dstBlocks, 0, src.config().numLayers());
    }

    /**
     * Plans a copy of a range of layers of blocks.
     *
     * @param src        the layout copied from
     * @param srcBlocks  block ids in {@code src}, none twice
     * @param dst        the layout copied to, with the same layers, outer dimension and region size
     * @param dstBlocks  block ids in {@code dst}, as many as {@code srcBlocks}, none twice
     * @param layerStart first layer copied
     * @param layerEnd   one past the last layer copied, above {@code layerStart} and at most {@code numLayers}
     * @return pairs that copy layers {@code [layerStart, layerEnd)} of {@code srcBlocks[i]} to {@code dstBlocks[i]}
     */
    public static List<RegionPair> plan(Layout src, int[] srcBlocks, Layout dst, int[] dstBlocks,
                                        int layerStart, int layerEnd) {
        validate(src, srcBlocks, dst, dstBlocks, layerStart, layerEnd);
        LayoutConfig config = src.config();
        boolean allLayers = layerStart == 0 && layerEnd == config.numLayers();
        if (allLayers && unwrap(src) instanceof FullyContiguousLayout s && unwrap(dst) instanceof FullyContiguousLayout d) {
            List<RegionPair> pairs = new ArrayList<>(srcBlocks.length);
            for (int i = 0; i < srcBlocks.length; i++) {
                pairs.add(new RegionPair(s.blockRegion(srcBlocks[i]), d.blockRegion(dstBlocks[i])));
            }
            return pairs;
        }
        int outer = config.outerDim();
        List<RegionPair> pairs = new ArrayList<>(srcBlocks.length * (layerEnd - layerStart) * outer);
        for (int i = 0; i < srcBlocks.length; i++) {
            for (int layer = layerStart; layer < layerEnd; layer++) {
                for (int o = 0; o < outer; o++) {
                    pairs.add(new RegionPair(src.memoryRegion(srcBlocks[i], layer, o),
                            dst.memoryRegion(dstBlocks[i], layer, o)));
                }
            }
        }
        return pairs;
    }

    private static Layout unwrap(Layout layout) {
        return layout instanceof OwnedLayout owned ? owned.layout() : layout;
    }

    private static void validate(Layout src, int[] srcBlocks, Layout dst, int[] dstBlocks, int layerStart,
                                 int layerEnd) {
        LayoutConfig s = src.config();
        LayoutConfig d = dst.config();
        if (srcBlocks.length != dstBlocks.length) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%d source blocks but %d destination blocks; the lists pair up one to one",
                    srcBlocks.length, dstBlocks.length));
        }
        if (s.numLayers() != d.numLayers() || s.outerDim() != d.outerDim() || s.regionSize() != d.regionSize()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "layouts are incompatible: source has %d layers x %d outer x %d-byte regions, destination %d x %d"
                            + " x %d; both must agree", s.numLayers(), s.outerDim(), s.regionSize(), d.numLayers(),
                    d.outerDim(), d.regionSize()));
        }
        if (layerStart < 0 || layerEnd > s.numLayers() || layerStart >= layerEnd) {
            throw new IndexOutOfBoundsException(String.format(Locale.ROOT,
                    "layer range [%d, %d) invalid: must be non-empty within [0, %d)", layerStart, layerEnd,
                    s.numLayers()));
        }
        // Sized by the lists, never by numBlocks: a peer's descriptor chooses numBlocks.
        Map<Integer, Integer> firstSeenAt = new HashMap<>(Math.max(16, srcBlocks.length * 2));
        for (int i = 0; i < srcBlocks.length; i++) {
            checkBlock("source", i, srcBlocks[i], s.numBlocks());
            checkBlock("destination", i, dstBlocks[i], d.numBlocks());
            Integer previous = firstSeenAt.putIfAbsent(dstBlocks[i], i);
            if (previous != null) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "destination block %d appears twice (positions %d and %d); each destination block may be"
                                + " written once per transfer", dstBlocks[i], previous, i));
            }
        }
        if (unwrap(src) == unwrap(dst)) {
            for (int i = 0; i < srcBlocks.length; i++) {
                Integer at = firstSeenAt.get(srcBlocks[i]);
                if (at != null) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "block %d is read (source position %d) and written (destination position %d) by a"
                                    + " transfer within one layout; source and destination blocks must be apart",
                            srcBlocks[i], i, at));
                }
            }
        }
    }

    private static void checkBlock(String side, int position, int block, int numBlocks) {
        if (block < 0 || block >= numBlocks) {
            throw new IndexOutOfBoundsException(String.format(Locale.ROOT,
                    "%s block %d at position %d out of range: must be 0..%d (numBlocks=%d)",
                    side, block, position, numBlocks - 1, numBlocks));
        }
    }
}
