package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;

import java.util.List;
import java.util.Locale;

/**
 * One region per layer, as inference engines that allocate a KV tensor per layer hold them.
 *
 * <p>With {@link BlockDimension#BLOCK_IS_FIRST_DIM} each layer is [blocks, outer, page, inner]: outer stride =
 * region size, block stride = region × outerDim. With {@link BlockDimension#BLOCK_IS_SECOND_DIM} each layer is
 * [outer, blocks, page, inner]: block stride = region size, outer stride = region × numBlocks.
 * {@code address = layerBase[layer] + block·blockStride + outer·outerStride}. Immutable and thread-safe.
 */
public final class LayerSeparateLayout implements Layout {
    private final LayoutConfig config;
    private final BlockDimension blockDimension;
    private final List<MemoryRegion> layerRegions;
    private final long[] layerBases;
    private final long regionSize;
    private final long blockStride;
    private final long outerStride;

    LayerSeparateLayout(LayoutConfig config, BlockDimension blockDimension, List<MemoryRegion> layerRegions) {
        this.config = config;
        this.blockDimension = blockDimension;
        this.layerRegions = List.copyOf(layerRegions);
        this.regionSize = config.regionSize();
        if (blockDimension == BlockDimension.BLOCK_IS_FIRST_DIM) {
            this.outerStride = regionSize;
            this.blockStride = Math.multiplyExact(regionSize, config.outerDim());
        } else {
            this.blockStride = regionSize;
            this.outerStride = Math.multiplyExact(regionSize, config.numBlocks());
        }
        long perLayer = perLayerSize(config);
        if (this.layerRegions.size() != config.numLayers()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "layout has %d regions, LayerSeparate needs %d (one per layer)",
                    this.layerRegions.size(), config.numLayers()));
        }
        this.layerBases = new long[config.numLayers()];
        for (int layer = 0; layer < layerBases.length; layer++) {
            MemoryRegion r = this.layerRegions.get(layer);
            if (r.size() < perLayer) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "layer %d region %s has %d bytes but a LayerSeparate layer of %d blocks x %d outer x %d bytes"
                                + " needs %d", layer, r, r.size(), config.numBlocks(), config.outerDim(), regionSize,
                        perLayer));
            }
            layerBases[layer] = r.address();
        }
    }

    /** Bytes one layer's region must hold: {@code numBlocks × outerDim × regionSize}. */
    static long perLayerSize(LayoutConfig config) {
        return Math.multiplyExact(Math.multiplyExact(config.regionSize(), config.outerDim()), config.numBlocks());
    }

    /** Where the block index sits in each layer's tensor. */
    public BlockDimension blockDimension() {
        return blockDimension;
    }

    @Override
    public LayoutConfig config() {
        return config;
    }

    @Override
    public MemoryRegion memoryRegion(int block, int layer, int outer) {
        Checks.coordinate(config, block, layer, outer);
        return new MemoryRegion(layerBases[layer] + block * blockStride + outer * outerStride, regionSize);
    }

    @Override
    public long[] requiredAllocations() {
        long[] sizes = new long[config.numLayers()];
        java.util.Arrays.fill(sizes, perLayerSize(config));
        return sizes;
    }

    @Override
    public boolean isFullyContiguous() {
        return false;
    }

    @Override
    public List<MemoryRegion> regions() {
        return layerRegions;
    }

    @Override
    public String toString() {
        return "LayerSeparateLayout[" + blockDimension + ", " + config + ", " + layerRegions.size() + " layer regions]";
    }
}
