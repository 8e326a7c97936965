package dev.kvbm.layout;

import dev.kvbm.api.LayoutConfig;

import java.util.Locale;

/** Bounds checks whose messages name the index, its value and its limit. */
final class Checks {
    private Checks() {
    }

    /** Checks a (block, layer, outer) coordinate against the config's limits. */
    static void coordinate(LayoutConfig config, int block, int layer, int outer) {
        index("block", block, config.numBlocks(), "numBlocks");
        index("layer", layer, config.numLayers(), "numLayers");
        index("outer", outer, config.outerDim(), "outerDim");
    }

    static void index(String what, int value, int limit, String limitName) {
        if (value < 0 || value >= limit) {
            throw new IndexOutOfBoundsException(String.format(Locale.ROOT,
                    "%s %d out of range: must be 0..%d (%s=%d)", what, value, limit - 1, limitName, limit));
        }
    }
}
