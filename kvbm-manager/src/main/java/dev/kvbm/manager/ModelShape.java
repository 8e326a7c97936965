package dev.kvbm.manager;

import dev.kvbm.api.LayoutConfig;

import java.util.Locale;

/**
 * The shape of a model's KV cache, as every tier lays it out: one block holds {@code pageSize} tokens of every
 * layer, {@code numLayers × outerDim} regions of {@code pageSize × innerDim × dtypeWidthBytes} bytes.
 *
 * @param numLayers       transformer layers, at least 1
 * @param outerDim        2 for separate K and V, 1 for fused KV (e.g. MLA)
 * @param pageSize        tokens per block, at least 1
 * @param innerDim        elements per token per region (KV heads × head dim), at least 1
 * @param dtypeWidthBytes bytes per element: 1, 2, 4 or 8
 */
public record ModelShape(int numLayers, int outerDim, int pageSize, int innerDim, int dtypeWidthBytes) {

    /** Checks every dimension (through {@link LayoutConfig}'s rules); the message names the one that is wrong. */
    public ModelShape {
        layoutConfig(1, numLayers, outerDim, pageSize, innerDim, dtypeWidthBytes);
    }

    /** {@return bytes in one block (all layers, K and V)} */
    public long blockBytes() {
        return (long) numLayers * outerDim * pageSize * innerDim * dtypeWidthBytes;
    }

    /**
     * The layout config of a tier of {@code numBlocks} blocks of this shape.
     *
     * @param numBlocks blocks in the tier
     * @return the config
     */
    public LayoutConfig layoutConfig(int numBlocks) {
        return layoutConfig(numBlocks, numLayers, outerDim, pageSize, innerDim, dtypeWidthBytes);
    }

    private static LayoutConfig layoutConfig(int numBlocks, int numLayers, int outerDim, int pageSize, int innerDim,
                                             int dtypeWidthBytes) {
        return LayoutConfig.builder().numBlocks(numBlocks).numLayers(numLayers).outerDim(outerDim).pageSize(pageSize)
                .innerDim(innerDim).dtypeWidthBytes(dtypeWidthBytes).build();
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "ModelShape[%d layers x %d outer x %d tokens x %d inner x %d B = %d B/block]",
                numLayers, outerDim, pageSize, innerDim, dtypeWidthBytes, blockBytes());
    }
}
