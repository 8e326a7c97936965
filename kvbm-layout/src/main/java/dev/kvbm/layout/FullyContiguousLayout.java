package dev.kvbm.layout;

import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;

import java.util.List;
import java.util.Locale;

/**
 * All blocks in one region, shaped [blocks, layers, outer, page, inner].
 *
 * <p>outer stride = region size; layer stride = region × outerDim; block stride = layer stride × numLayers;
 * {@code address = base + block·blockStride + layer·layerStride + outer·outerStride}. Immutable and thread-safe.
 */
public final class FullyContiguousLayout implements Layout {
    private final LayoutConfig config;
    private final MemoryRegion region;
    private final long regionSize;
    private final long layerStride;
    private final long blockStride;

    FullyContiguousLayout(LayoutConfig config, MemoryRegion region) {
        this.config = config;
        this.region = region;
        this.regionSize = config.regionSize();
        this.layerStride = Math.multiplyExact(regionSize, config.outerDim());
        this.blockStride = Math.multiplyExact(layerStride, config.numLayers());
        long required = Math.multiplyExact(blockStride, config.numBlocks());
        if (region.size() < required) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "region %s has %d bytes but a FullyContiguous layout of %d blocks x %d bytes needs %d",
                    region, region.size(), config.numBlocks(), blockStride, required));
        }
    }

    @Override
    public LayoutConfig config() {
        return config;
    }

    @Override
    public MemoryRegion memoryRegion(int block, int layer, int outer) {
        Checks.coordinate(config, block, layer, outer);
        long address = region.address() + block * blockStride + layer * layerStride + outer * regionSize;
        return new MemoryRegion(address, regionSize);
    }

    /**
     * The bytes of a whole block: {@code numLayers × outerDim} regions back to back.
     *
     * @param block block index, below {@code numBlocks}
     * @return the block's region
     */
    public MemoryRegion blockRegion(int block) {
        Checks.index("block", block, config.numBlocks(), "numBlocks");
        return new MemoryRegion(region.address() + block * blockStride, blockStride);
    }

    /** {@return distance in bytes between the starts of two consecutive blocks} */
    public long blockStride() {
        return blockStride;
    }

    @Override
    public long[] requiredAllocations() {
        return new long[] {blockStride * config.numBlocks()};
    }

    @Override
    public boolean isFullyContiguous() {
        return true;
    }

    @Override
    public List<MemoryRegion> regions() {
        return List.of(region);
    }

    @Override
    public String toString() {
        return "FullyContiguousLayout[" + config + " at " + region + "]";
    }
}
