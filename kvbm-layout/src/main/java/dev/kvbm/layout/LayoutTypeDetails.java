package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;

import java.util.Objects;

/**
 * What a descriptor needs, beyond the config, to rebuild a layout of its type (Dynamo's {@code LayoutTypeDetails};
 * wire order FullyContiguous=0, LayerSeparate=1).
 */
public sealed interface LayoutTypeDetails {

    /** One region holding every block. */
    record FullyContiguous(BlockFormat blockFormat) implements LayoutTypeDetails {
        public FullyContiguous {
            Objects.requireNonNull(blockFormat, "blockFormat");
        }
    }

    /** One region per layer, with the block index at {@code blockDim}. */
    record LayerSeparate(BlockDimension blockDim) implements LayoutTypeDetails {
        public LayerSeparate {
            Objects.requireNonNull(blockDim, "blockDim");
        }
    }
}
