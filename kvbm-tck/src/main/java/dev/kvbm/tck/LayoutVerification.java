package dev.kvbm.tck;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Rules 4.x of docs/tck-spec.md for {@link Layout} implementations: the address math must equal Dynamo v2's (so
 * descriptors exchanged with a Dynamo worker address the same bytes), every lookup is bounds-checked, and memory
 * too small for the config is refused. Layouts are arithmetic, so no memory is allocated: the kit lays them over
 * made-up addresses.
 */
public abstract class LayoutVerification {

    /** A FullyContiguous layout of {@code config} over {@code region}. */
    protected abstract Layout fullyContiguous(LayoutConfig config, MemoryRegion region);

    /** A LayerSeparate layout of {@code config} over one region per layer. */
    protected abstract Layout layerSeparate(LayoutConfig config, BlockDimension dimension, List<MemoryRegion> layers);

    private static LayoutConfig randomConfig(SplittableRandom random) {
        return LayoutConfig.builder().numBlocks(1 + random.nextInt(9)).numLayers(1 + random.nextInt(5))
                .outerDim(1 + random.nextInt(2)).pageSize(1 + random.nextInt(17)).innerDim(1 + random.nextInt(33))
                .dtypeWidthBytes(1 << random.nextInt(4)).build();
    }

    private static List<MemoryRegion> layerRegions(LayoutConfig c, long base) {
        long perLayer = c.regionSize() * c.outerDim() * c.numBlocks();
        List<MemoryRegion> layers = new ArrayList<>();
        for (int l = 0; l < c.numLayers(); l++) {
            layers.add(new MemoryRegion(base + l * (perLayer + 4096), perLayer));
        }
        return layers;
    }

    @Test
    public void required_4_1_addressMathEqualsDynamo() {
        SplittableRandom random = new SplittableRandom(41);
        for (int i = 0; i < 200; i++) {
            LayoutConfig c = randomConfig(random);
            long region = c.regionSize();
            long base = 0x7f00_0000_0000L + random.nextInt(1 << 20) * 64L;
            Layout fc = fullyContiguous(c, new MemoryRegion(base, c.totalSize()));
            List<MemoryRegion> layers = layerRegions(c, base);
            Layout first = layerSeparate(c, BlockDimension.BLOCK_IS_FIRST_DIM, layers);
            Layout second = layerSeparate(c, BlockDimension.BLOCK_IS_SECOND_DIM, layers);
            for (int b = 0; b < c.numBlocks(); b++) {
                for (int l = 0; l < c.numLayers(); l++) {
                    for (int o = 0; o < c.outerDim(); o++) {
                        long layerBase = layers.get(l).address();
                        check(fc, b, l, o, base + b * region * c.outerDim() * c.numLayers() + l * region * c.outerDim()
                                + o * region, region);
                        check(first, b, l, o, layerBase + b * region * c.outerDim() + o * region, region);
                        check(second, b, l, o, layerBase + b * region + o * region * c.numBlocks(), region);
                    }
                }
            }
        }
    }

    private static void check(Layout layout, int b, int l, int o, long address, long size) {
        MemoryRegion r = layout.memoryRegion(b, l, o);
        if (r.address() != address || r.size() != size) {
            fail(String.format(Locale.ROOT, "%s: (block %d, layer %d, outer %d) is %s; Dynamo's math gives 0x%x + %d"
                    + " for %s", layout.getClass().getSimpleName(), b, l, o, r, address, size, layout.config()));
        }
    }

    @Test
    public void required_4_2_regionsAreDisjointAndInsideTheBackingMemory() {
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < 50; i++) {
            LayoutConfig c = randomConfig(random);
            MemoryRegion whole = new MemoryRegion(1 << 20, c.totalSize());
            List<MemoryRegion> layers = layerRegions(c, 1 << 20);
            for (Layout layout : List.of(fullyContiguous(c, whole),
                    layerSeparate(c, BlockDimension.BLOCK_IS_FIRST_DIM, layers),
                    layerSeparate(c, BlockDimension.BLOCK_IS_SECOND_DIM, layers))) {
                List<MemoryRegion> all = new ArrayList<>();
                for (int b = 0; b < c.numBlocks(); b++) {
                    for (int l = 0; l < c.numLayers(); l++) {
                        for (int o = 0; o < c.outerDim(); o++) {
                            MemoryRegion r = layout.memoryRegion(b, l, o);
                            assertEquals(c.regionSize(), r.size(), "every region is pageSize x innerDim x dtype bytes");
                            assertTrue(layout.regions().stream().anyMatch(m -> m.contains(r)),
                                    () -> r + " lies outside the layout's backing regions " + layout.regions());
                            all.add(r);
                        }
                    }
                }
                all.sort((x, y) -> Long.compareUnsigned(x.address(), y.address()));
                for (int k = 1; k < all.size(); k++) {
                    MemoryRegion prev = all.get(k - 1);
                    MemoryRegion cur = all.get(k);
                    assertTrue(!prev.overlaps(cur), () -> prev + " and " + cur + " overlap in " + layout);
                }
                assertEquals(layout.isFullyContiguous() ? 1 : c.numLayers(), layout.requiredAllocations().length,
                        "requiredAllocations has one entry per backing region");
            }
        }
    }

    @Test
    public void required_4_3_outOfRangeCoordinatesAreRejectedWithTheirLimit() {
        LayoutConfig c = LayoutConfig.builder().numBlocks(3).numLayers(2).outerDim(2).pageSize(4).innerDim(8).build();
        Layout fc = fullyContiguous(c, new MemoryRegion(4096, c.totalSize()));
        Layout ls = layerSeparate(c, BlockDimension.BLOCK_IS_FIRST_DIM, layerRegions(c, 4096));
        for (Layout layout : List.of(fc, ls)) {
            for (int[] bad : new int[][] {{3, 0, 0}, {-1, 0, 0}, {0, 2, 0}, {0, 0, 2}, {0, -1, 0}}) {
                IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class,
                        () -> layout.memoryRegion(bad[0], bad[1], bad[2]),
                        () -> "memoryRegion" + Arrays.toString(bad) + " must throw IndexOutOfBoundsException");
                int index = bad[0] != 0 ? bad[0] : bad[1] != 0 ? bad[1] : bad[2];
                assertTrue(e.getMessage() != null && e.getMessage().contains(Integer.toString(index)),
                        () -> "the message must name the bad index " + index + ": " + e.getMessage());
            }
        }
    }

    @Test
    public void required_4_4_memoryTooSmallForTheConfigIsRefused() {
        LayoutConfig c = LayoutConfig.builder().numBlocks(3).numLayers(2).outerDim(2).pageSize(4).innerDim(8).build();
        assertThrows(IllegalArgumentException.class,
                () -> fullyContiguous(c, new MemoryRegion(4096, c.totalSize() - 1)),
                "a FullyContiguous layout over one byte too few must be refused");
        List<MemoryRegion> layers = new ArrayList<>(layerRegions(c, 4096));
        MemoryRegion last = layers.removeLast();
        layers.add(new MemoryRegion(last.address(), last.size() - 1));
        assertThrows(IllegalArgumentException.class, () -> layerSeparate(c, BlockDimension.BLOCK_IS_FIRST_DIM, layers),
                "a LayerSeparate layout whose last layer is one byte short must be refused");
        assertThrows(IllegalArgumentException.class,
                () -> layerSeparate(c, BlockDimension.BLOCK_IS_FIRST_DIM, layers.subList(0, 1)),
                "a LayerSeparate layout with fewer regions than layers must be refused");
    }
}
