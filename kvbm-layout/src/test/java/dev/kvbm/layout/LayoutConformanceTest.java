package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.tck.LayoutVerification;

import java.util.List;

/** This module's layouts against the kit's layout rules. */
class LayoutConformanceTest extends LayoutVerification {
    @Override
    protected Layout fullyContiguous(LayoutConfig config, MemoryRegion region) {
        return Layouts.fullyContiguous(config, region);
    }

    @Override
    protected Layout layerSeparate(LayoutConfig config, BlockDimension dimension, List<MemoryRegion> layers) {
        return Layouts.layerSeparate(config, dimension, layers);
    }
}
