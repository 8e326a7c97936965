package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;

import java.util.Objects;

/**
 * What a descriptor needs, beyond the config, to rebuild a layout of its type (Dynamo's {@code LayoutTypeDetails};
 * wire order FullyContiguous=0, LayerSeparate=1).
 */
public sealed interface LayoutTypeDetails {

    /**
     * One region holding every block.
     *
     * @param blockFormat how the bytes of a block are arranged
     */
    record FullyContiguous(BlockFormat blockFormat) implements LayoutTypeDetails {
        /** Checks the format is present. */
        public FullyContiguous {
            Objects.requireNonNull(blockFormat, "blockFormat");
        }
    }

    /**
     * One region per layer.
     *
     * @param blockDim where the block index sits in each layer's tensor
     */
    record LayerSeparate(BlockDimension blockDim) implements LayoutTypeDetails {
        /** Checks the dimension is present. */
        public LayerSeparate {
            Objects.requireNonNull(blockDim, "blockDim");
        }
    }
}
