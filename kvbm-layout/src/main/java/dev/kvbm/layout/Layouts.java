package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;

import java.util.List;
import java.util.Objects;

/**
 * Builds layouts. {@link #fullyContiguous} and {@link #layerSeparate} lay a config over memory that already exists
 * (this process's or, from a descriptor, another worker's) and allocate nothing; {@link #builder} allocates the
 * backing storage as well.
 */
public final class Layouts {

    private Layouts() {
    }

    /**
     * A FullyContiguous layout over {@code region}, which must hold at least
     * {@code numBlocks × numLayers × outerDim × regionSize} bytes.
     */
    public static FullyContiguousLayout fullyContiguous(LayoutConfig config, MemoryRegion region) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(region, "region");
        return new FullyContiguousLayout(config, region);
    }

    /**
     * A LayerSeparate layout over exactly {@code numLayers} regions, each holding at least
     * {@code numBlocks × outerDim × regionSize} bytes.
     */
    public static LayerSeparateLayout layerSeparate(LayoutConfig config, BlockDimension blockDimension,
                                                    List<MemoryRegion> perLayerRegions) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(blockDimension, "blockDimension");
        Objects.requireNonNull(perLayerRegions, "perLayerRegions");
        return new LayerSeparateLayout(config, blockDimension, perLayerRegions);
    }

    /** A builder that allocates a layout's backing storage through a provider. */
    public static LayoutBuilder builder(LayoutConfig config) {
        return new LayoutBuilder(Objects.requireNonNull(config, "config"));
    }
}
