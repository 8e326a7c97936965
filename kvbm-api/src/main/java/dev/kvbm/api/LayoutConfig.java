package dev.kvbm.api;

import java.util.Locale;
import java.util.Objects;

/**
 * The shape of a KV cache: how many blocks, and what one block holds.
 *
 * <p>A block holds {@code numLayers × outerDim} <em>regions</em>; each region is one page of
 * {@code pageSize} tokens × {@code innerDim} elements of {@code dtypeWidthBytes} bytes. {@code outerDim} is 2
 * when keys and values are stored apart and 1 for fused caches such as MLA.
 *
 * <p>Construction validates every field and every derived size: each dimension is at least 1, {@code outerDim}
 * is 1 or 2, {@code alignment} is a power of two, the dtype is 1, 2, 4 or 8 bytes wide (1 admits FP8 caches,
 * which Dynamo rejects), and no derived byte count overflows a {@code long}. A bad value fails with an
 * {@link IllegalArgumentException} naming the field, the value and what is allowed.
 *
 * <p>{@code alignment} constrains where allocations start; as in Dynamo v2 it does not change strides, so two
 * workers that agree on a config agree on every address.
 *
 * @param numBlocks       number of blocks, at least 1
 * @param numLayers       layers per block, at least 1
 * @param outerDim        1 or 2
 * @param pageSize        tokens per block, at least 1
 * @param innerDim        elements per token per region (heads × head_dim), at least 1
 * @param alignment       allocation alignment in bytes, a power of two (default 1)
 * @param dtypeWidthBytes bytes per element: 1, 2, 4 or 8 (default 2)
 * @param innerShape      order of the inner dimensions (default {@link InnerShape#UNKNOWN})
 */
public record LayoutConfig(
        int numBlocks,
        int numLayers,
        int outerDim,
        int pageSize,
        int innerDim,
        int alignment,
        int dtypeWidthBytes,
        InnerShape innerShape) {

    /** Checks every field; the message names the field, its value and what is allowed. */
    public LayoutConfig {
        requireAtLeastOne("numBlocks", numBlocks);
        requireAtLeastOne("numLayers", numLayers);
        if (outerDim < 1 || outerDim > 2) {
            throw invalid("outerDim", outerDim, "1 (fused KV, e.g. MLA) or 2 (separate K and V)");
        }
        requireAtLeastOne("pageSize", pageSize);
        requireAtLeastOne("innerDim", innerDim);
        if (alignment < 1 || Integer.bitCount(alignment) != 1) {
            throw invalid("alignment", alignment, "a power of two >= 1");
        }
        if (dtypeWidthBytes != 1 && dtypeWidthBytes != 2 && dtypeWidthBytes != 4 && dtypeWidthBytes != 8) {
            throw invalid("dtypeWidthBytes", dtypeWidthBytes, "1 (FP8), 2 (FP16/BF16), 4 (FP32) or 8 (FP64)");
        }
        Objects.requireNonNull(innerShape, "LayoutConfig.innerShape must not be null (use InnerShape.UNKNOWN)");
        try {
            long region = Math.multiplyExact(Math.multiplyExact((long) pageSize, innerDim), dtypeWidthBytes);
            long block = Math.multiplyExact(Math.multiplyExact(region, outerDim), numLayers);
            Math.multiplyExact(block, numBlocks);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "LayoutConfig too large: %d blocks x %d layers x %d outer x %d tokens x %d inner x %d bytes"
                            + " overflows a 64-bit byte count",
                    numBlocks, numLayers, outerDim, pageSize, innerDim, dtypeWidthBytes), e);
        }
    }

    /** {@return bytes in one region: {@code pageSize × innerDim × dtypeWidthBytes}} */
    public long regionSize() {
        return (long) pageSize * innerDim * dtypeWidthBytes;
    }

    /** {@return bytes in one whole block: {@code regionSize × outerDim × numLayers}} */
    public long blockSize() {
        return regionSize() * outerDim * numLayers;
    }

    /** {@return bytes in the whole cache: {@code blockSize × numBlocks}} */
    public long totalSize() {
        return blockSize() * numBlocks;
    }

    /** {@return a builder with every dimension unset, alignment 1, dtype width 2 and inner shape UNKNOWN} */
    public static Builder builder() {
        return new Builder();
    }

    /** {@return a builder preset to this config's values} */
    public Builder toBuilder() {
        return new Builder().numBlocks(numBlocks).numLayers(numLayers).outerDim(outerDim).pageSize(pageSize)
                .innerDim(innerDim).alignment(alignment).dtypeWidthBytes(dtypeWidthBytes).innerShape(innerShape);
    }

    private static void requireAtLeastOne(String field, int value) {
        if (value < 1) {
            throw invalid(field, value, value == 0 ? ">= 1 (was it set?)" : ">= 1");
        }
    }

    private static IllegalArgumentException invalid(String field, long value, String allowed) {
        return new IllegalArgumentException(String.format(Locale.ROOT,
                "LayoutConfig.%s = %d is not allowed: must be %s", field, value, allowed));
    }

    /** Mutable builder; not thread-safe. {@link #build()} validates. */
    public static final class Builder {
        private int numBlocks;
        private int numLayers;
        private int outerDim;
        private int pageSize;
        private int innerDim;
        private int alignment = 1;
        private int dtypeWidthBytes = 2;
        private InnerShape innerShape = InnerShape.UNKNOWN;

        private Builder() {
        }

        /**
         * Sets {@code numBlocks}.
         *
         * @param numBlocks blocks in the layout (at least 1)
         * @return this builder
         */
        public Builder numBlocks(int numBlocks) {
            this.numBlocks = numBlocks;
            return this;
        }

        /**
         * Sets {@code numLayers}.
         *
         * @param numLayers attention layers (at least 1)
         * @return this builder
         */
        public Builder numLayers(int numLayers) {
            this.numLayers = numLayers;
            return this;
        }

        /**
         * Sets {@code outerDim}.
         *
         * @param outerDim 1 for a shared K/V tensor, 2 for separate K and V
         * @return this builder
         */
        public Builder outerDim(int outerDim) {
            this.outerDim = outerDim;
            return this;
        }

        /**
         * Sets {@code pageSize}.
         *
         * @param pageSize tokens per block
         * @return this builder
         */
        public Builder pageSize(int pageSize) {
            this.pageSize = pageSize;
            return this;
        }

        /**
         * Sets {@code innerDim}.
         *
         * @param innerDim elements per token in one region (heads × head size)
         * @return this builder
         */
        public Builder innerDim(int innerDim) {
            this.innerDim = innerDim;
            return this;
        }

        /**
         * Sets {@code alignment}.
         *
         * @param alignment alignment of allocation starts, a power of two (not used in stride math)
         * @return this builder
         */
        public Builder alignment(int alignment) {
            this.alignment = alignment;
            return this;
        }

        /**
         * Sets {@code dtypeWidthBytes}.
         *
         * @param dtypeWidthBytes bytes per element: 1, 2, 4 or 8
         * @return this builder
         */
        public Builder dtypeWidthBytes(int dtypeWidthBytes) {
            this.dtypeWidthBytes = dtypeWidthBytes;
            return this;
        }

        /**
         * Sets {@code innerShape}.
         *
         * @param innerShape order of heads and tokens inside a region
         * @return this builder
         */
        public Builder innerShape(InnerShape innerShape) {
            this.innerShape = innerShape;
            return this;
        }

        /** {@return the config; every field is checked as by the constructor} */
        public LayoutConfig build() {
            return new LayoutConfig(numBlocks, numLayers, outerDim, pageSize, innerDim, alignment, dtypeWidthBytes,
                    innerShape);
        }
    }
}
