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
        requireDisjointLayers(this.layerRegions, perLayer);
    }

    /**
     * The bytes each layer uses, {@code [base, base + perLayer)}, must not overlap another layer's: otherwise two
     * coordinates share bytes (a peer's descriptor may claim that). Sorted by address, so n log n in the layers.
     */
    private static void requireDisjointLayers(List<MemoryRegion> layers, long perLayer) {
        Integer[] order = new Integer[layers.size()];
        java.util.Arrays.setAll(order, i -> i);
        java.util.Arrays.sort(order, (a, b) -> Long.compareUnsigned(layers.get(a).address(), layers.get(b).address()));
        for (int k = 1; k < order.length; k++) {
            MemoryRegion previous = layers.get(order[k - 1]).slice(0, perLayer);
            MemoryRegion current = layers.get(order[k]).slice(0, perLayer);
            if (perLayer > 0 && previous.overlaps(current)) {
                int a = Math.min(order[k - 1], order[k]);
                int b = Math.max(order[k - 1], order[k]);
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "layer %d %s and layer %d %s overlap in the %d bytes each layer uses; layer regions must be"
                                + " disjoint", a, layers.get(a).slice(0, perLayer), b,
                        layers.get(b).slice(0, perLayer), perLayer));
            }
        }
    }

    /** Bytes one layer's region must hold: {@code numBlocks × outerDim × regionSize}. */
    static long perLayerSize(LayoutConfig config) {
        return Math.multiplyExact(Math.multiplyExact(config.regionSize(), config.outerDim()), config.numBlocks());
    }

    /** {@return where the block index sits in each layer's tensor} */
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
