package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.InnerShape;
import dev.kvbm.api.LayoutConfig;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Checks the per-layer KV tensors an inference engine hands over and derives the layout that addresses them.
 *
 * <p>The rules are Dynamo's: every layer's tensor has the same shape; strides (in elements) never increase from
 * the outermost dimension inwards, so the logical order is the memory order; the block index is the first
 * dimension when it is at least {@code numBlocks} long (then the second dimension is the outer one), else the
 * second (then the first is outer). The elements after the first two make up one region and must be a whole
 * number of pages. Where Dynamo guesses NHD/HND from strides, the inner shape here is read from where
 * {@code pageSize} sits: [page, heads, dim] is NHD, [heads, page, dim] is HND, anything else UNKNOWN.
 */
public final class TensorLayouts {

    private TensorLayouts() {
    }

    /**
     * One layer's KV tensor as the engine sees it.
     *
     * @param shape   sizes, outermost first
     * @param strides element strides, one per dimension
     */
    public record KvTensor(long[] shape, long[] strides) {
        /** Checks there is one stride per dimension, and copies both arrays. */
        public KvTensor {
            Objects.requireNonNull(shape, "shape");
            Objects.requireNonNull(strides, "strides");
            if (shape.length != strides.length) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "shape %s has %d dimensions but strides %s has %d; give one stride per dimension",
                        Arrays.toString(shape), shape.length, Arrays.toString(strides), strides.length));
            }
            shape = shape.clone();
            strides = strides.clone();
        }

        /** {@return the sizes, outermost first (a copy)} */
        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** {@return the element strides, one per dimension (a copy)} */
        @Override
        public long[] strides() {
            return strides.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof KvTensor t && Arrays.equals(shape, t.shape) && Arrays.equals(strides, t.strides);
        }

        @Override
        public int hashCode() {
            return 31 * Arrays.hashCode(shape) + Arrays.hashCode(strides);
        }

        @Override
        public String toString() {
            return "KvTensor[shape=" + Arrays.toString(shape) + ", strides=" + Arrays.toString(strides) + "]";
        }
    }

    /**
     * What the tensors describe.
     *
     * @param config         the config of a LayerSeparate layout over the tensors (one layer per tensor)
     * @param blockDimension where the block index sits
     */
    public record TensorLayout(LayoutConfig config, BlockDimension blockDimension) {
    }

    /**
     * The shape every tensor shares; fails naming the first tensor that differs.
     *
     * @param tensors one tensor per layer, at least one
     * @return the shared shape (a copy)
     */
    public static long[] validateShapes(List<KvTensor> tensors) {
        requireNonEmpty(tensors);
        long[] first = tensors.getFirst().shape;
        for (int i = 1; i < tensors.size(); i++) {
            if (!Arrays.equals(first, tensors.get(i).shape)) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "tensor %d has shape %s but tensor 0 has %s; every layer's tensor must have the same shape",
                        i, Arrays.toString(tensors.get(i).shape), Arrays.toString(first)));
            }
        }
        for (long size : first) {
            if (size < 1) {
                throw new IllegalArgumentException("tensor shape " + Arrays.toString(first)
                        + " has a dimension < 1; every dimension must be >= 1");
            }
        }
        return first.clone();
    }

    /**
     * Checks that each tensor's strides never increase from the outermost dimension inwards.
     *
     * @param tensors one tensor per layer, at least one
     */
    public static void validateStrides(List<KvTensor> tensors) {
        requireNonEmpty(tensors);
        for (int t = 0; t < tensors.size(); t++) {
            long[] strides = tensors.get(t).strides;
            if (strides.length < 2) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "tensor %d has %d dimensions; a KV tensor has at least 2", t, strides.length));
            }
            for (int i = 0; i < strides.length; i++) {
                if (strides[i] < 0) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "tensor %d stride %d at dimension %d is negative; strides must be >= 0", t, strides[i], i));
                }
                if (i > 0 && strides[i] > strides[i - 1]) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "tensor %d strides %s increase at dimension %d (%d > %d); strides must not increase"
                                    + " inwards, i.e. the tensor must be contiguous in its logical order",
                            t, Arrays.toString(strides), i, strides[i], strides[i - 1]));
                }
            }
        }
    }

    /**
     * Derives the config and block dimension of a LayerSeparate layout over {@code perLayerTensors}.
     *
     * @param numBlocks       blocks the engine allocated
     * @param pageSize        tokens per block
     * @param dtypeWidthBytes bytes per element
     * @param perLayerTensors one tensor per layer, all of the same shape
     * @return the config and where the block index sits
     */
    public static TensorLayout determine(int numBlocks, int pageSize, int dtypeWidthBytes,
                                         List<KvTensor> perLayerTensors) {
        if (numBlocks < 1 || pageSize < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "numBlocks=%d and pageSize=%d must both be >= 1", numBlocks, pageSize));
        }
        long[] shape = validateShapes(perLayerTensors);
        validateStrides(perLayerTensors);
        if (shape.length < 3) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "tensor shape %s has %d dimensions; a KV tensor needs at least 3 (blocks, outer, elements...)",
                    Arrays.toString(shape), shape.length));
        }
        BlockDimension blockDimension;
        long outer;
        if (shape[0] >= numBlocks) {
            blockDimension = BlockDimension.BLOCK_IS_FIRST_DIM;
            outer = shape[1];
        } else if (shape[1] >= numBlocks) {
            blockDimension = BlockDimension.BLOCK_IS_SECOND_DIM;
            outer = shape[0];
        } else {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "tensor shape %s has no dimension of at least numBlocks=%d in position 0 or 1;"
                            + " expected [blocks, outer, ...] or [outer, blocks, ...]", Arrays.toString(shape),
                    numBlocks));
        }
        if (outer != 1 && outer != 2) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "tensor shape %s puts %d at the outer dimension, which must be 1 or 2; an MLA cache shaped"
                            + " [blocks, page, latent] should be viewed as [blocks, 1, page, latent]",
                    Arrays.toString(shape), outer));
        }
        long elements = 1;
        for (int i = 2; i < shape.length; i++) {
            try {
                elements = Math.multiplyExact(elements, shape[i]);
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "tensor shape %s holds more elements per region than a 64-bit count: the dimensions after"
                                + " the block and outer ones multiply past 2^63", Arrays.toString(shape)), e);
            }
        }
        if (elements % pageSize != 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "tensor shape %s holds %d elements per region, not a multiple of pageSize=%d",
                    Arrays.toString(shape), elements, pageSize));
        }
        long innerDim = elements / pageSize;
        if (innerDim > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("inner dimension " + innerDim + " of shape " + Arrays.toString(shape)
                    + " exceeds " + Integer.MAX_VALUE);
        }
        LayoutConfig config = LayoutConfig.builder()
                .numBlocks(numBlocks)
                .numLayers(perLayerTensors.size())
                .outerDim((int) outer)
                .pageSize(pageSize)
                .innerDim((int) innerDim)
                .dtypeWidthBytes(dtypeWidthBytes)
                .innerShape(innerShape(shape, pageSize))
                .build();
        return new TensorLayout(config, blockDimension);
    }

    private static InnerShape innerShape(long[] shape, int pageSize) {
        if (shape.length != 5) {
            return InnerShape.UNKNOWN;
        }
        boolean pageFirst = shape[2] == pageSize;
        boolean pageSecond = shape[3] == pageSize;
        if (pageFirst && !pageSecond) {
            return InnerShape.NHD;
        }
        if (pageSecond && !pageFirst) {
            return InnerShape.HND;
        }
        return InnerShape.UNKNOWN;
    }

    private static void requireNonEmpty(List<KvTensor> tensors) {
        if (tensors == null || tensors.isEmpty()) {
            throw new IllegalArgumentException("no tensors given; pass one KV tensor per layer");
        }
    }
}
