package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LayoutMathTest {
    private static final long BASE = 0x1000;
    private static final long R = 4096;

    /** Dynamo's fixture: 2 blocks x 2 layers x outer 2, page 16, inner 128, dtype 2, so one region is 4096 bytes. */
    private static final LayoutConfig ANCHOR = LayoutConfig.builder().numBlocks(2).numLayers(2).outerDim(2)
            .pageSize(16).innerDim(128).dtypeWidthBytes(2).build();

    /** One region per anchor layer, each exactly 4 regions (2 blocks x outer 2) long. */
    private static final List<MemoryRegion> TWO_LAYERS =
            List.of(new MemoryRegion(BASE, 4 * R), new MemoryRegion(0x100000, 4 * R));

    @Test
    void fullyContiguousMatchesTheAnchor() {
        Layout l = Layouts.fullyContiguous(ANCHOR, new MemoryRegion(BASE, 8 * R));
        assertThat(ANCHOR.regionSize()).isEqualTo(R);
        assertThat(l.memoryRegion(0, 0, 0)).isEqualTo(new MemoryRegion(BASE, R));
        assertThat(l.memoryRegion(0, 0, 1)).isEqualTo(new MemoryRegion(BASE + R, R));
        assertThat(l.memoryRegion(0, 1, 0)).isEqualTo(new MemoryRegion(BASE + 2 * R, R));
        assertThat(l.memoryRegion(1, 0, 0)).isEqualTo(new MemoryRegion(BASE + 4 * R, R));
        assertThat(l.memoryRegion(1, 1, 1)).isEqualTo(new MemoryRegion(BASE + 7 * R, R));
        assertThat(l.requiredAllocations()).containsExactly(8 * R);
        assertThat(l.isFullyContiguous()).isTrue();
        assertThat(l.regions()).containsExactly(new MemoryRegion(BASE, 8 * R));
    }

    @Test
    void layerSeparateBlockFirstMatchesTheAnchor() {
        Layout l = Layouts.layerSeparate(ANCHOR, BlockDimension.BLOCK_IS_FIRST_DIM, TWO_LAYERS);
        // [blocks, outer, page, inner]: outer stride R, block stride 2R.
        assertThat(l.memoryRegion(0, 0, 1).address()).isEqualTo(BASE + R);
        assertThat(l.memoryRegion(1, 0, 0).address()).isEqualTo(BASE + 2 * R);
        assertThat(l.memoryRegion(1, 0, 1).address()).isEqualTo(BASE + 3 * R);
        assertThat(l.memoryRegion(1, 1, 1).address()).isEqualTo(0x100000 + 3 * R);
        assertThat(l.requiredAllocations()).containsExactly(4 * R, 4 * R);
        assertThat(l.isFullyContiguous()).isFalse();
    }

    @Test
    void layerSeparateBlockSecondMatchesTheAnchor() {
        Layout l = Layouts.layerSeparate(ANCHOR, BlockDimension.BLOCK_IS_SECOND_DIM, TWO_LAYERS);
        // [outer, blocks, page, inner]: block stride R, outer stride R * numBlocks.
        assertThat(l.memoryRegion(1, 0, 0).address()).isEqualTo(BASE + R);
        assertThat(l.memoryRegion(0, 0, 1).address()).isEqualTo(BASE + 2 * R);
        assertThat(l.memoryRegion(1, 0, 1).address()).isEqualTo(BASE + 3 * R);
        assertThat(l.memoryRegion(1, 1, 0).address()).isEqualTo(0x100000 + R);
    }

    @Test
    void tooSmallOrWrongNumberOfRegionsIsAnErrorNamingBothSizes() {
        assertThatThrownBy(() -> Layouts.fullyContiguous(ANCHOR, new MemoryRegion(BASE, 8 * R - 1)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("has 32767 bytes").hasMessageContaining("needs 32768");
        assertThatThrownBy(() -> Layouts.layerSeparate(ANCHOR, BlockDimension.BLOCK_IS_FIRST_DIM,
                List.of(new MemoryRegion(BASE, 4 * R))))
                .hasMessage("layout has 1 regions, LayerSeparate needs 2 (one per layer)");
        assertThatThrownBy(() -> Layouts.layerSeparate(ANCHOR, BlockDimension.BLOCK_IS_FIRST_DIM,
                List.of(new MemoryRegion(BASE, 4 * R), new MemoryRegion(0x100000, 4 * R - 2))))
                .hasMessageContaining("layer 1 region").hasMessageContaining("has 16382 bytes")
                .hasMessageContaining("needs 16384");
    }

    @Test
    void outOfRangeIndicesNameTheIndexAndItsLimit() {
        Layout l = Layouts.fullyContiguous(ANCHOR, new MemoryRegion(BASE, 8 * R));
        assertThatThrownBy(() -> l.memoryRegion(2, 0, 0)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("block 2 out of range: must be 0..1 (numBlocks=2)");
        assertThatThrownBy(() -> l.memoryRegion(0, -1, 0)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("layer -1 out of range: must be 0..1 (numLayers=2)");
        assertThatThrownBy(() -> l.memoryRegion(0, 0, 2)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("outer 2 out of range: must be 0..1 (outerDim=2)");
        Layout s = Layouts.layerSeparate(ANCHOR, BlockDimension.BLOCK_IS_SECOND_DIM, TWO_LAYERS);
        assertThatThrownBy(() -> s.memoryRegion(5, 0, 0)).hasMessageContaining("block 5 out of range");
    }

    @Test
    void aLayoutThatWouldRunPastTheAddressSpaceIsRejected() {
        assertThatThrownBy(() -> Layouts.fullyContiguous(ANCHOR, new MemoryRegion(-8 * R + 1, 8 * R)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    /** Property: over random configs, regions never overlap and all lie inside the backing regions. */
    @Test
    void randomConfigsNeverOverlapAndStayInside() {
        Random random = new Random(20261121);
        for (int trial = 0; trial < 300; trial++) {
            LayoutConfig c = LayoutConfig.builder()
                    .numBlocks(1 + random.nextInt(12))
                    .numLayers(1 + random.nextInt(6))
                    .outerDim(1 + random.nextInt(2))
                    .pageSize(1 + random.nextInt(32))
                    .innerDim(1 + random.nextInt(300))
                    .dtypeWidthBytes(1 << random.nextInt(4))
                    .build();
            long slack = random.nextInt(3) * 17L;
            long base = 0x10000 + random.nextInt(1 << 20);
            List<Layout> layouts = new ArrayList<>();
            layouts.add(Layouts.fullyContiguous(c, new MemoryRegion(base, c.totalSize() + slack)));
            for (BlockDimension dim : BlockDimension.values()) {
                List<MemoryRegion> perLayer = new ArrayList<>();
                long cursor = base;
                for (int layer = 0; layer < c.numLayers(); layer++) {
                    long size = LayerSeparateLayout.perLayerSize(c) + slack;
                    perLayer.add(new MemoryRegion(cursor, size));
                    cursor += size + random.nextInt(4096);
                }
                layouts.add(Layouts.layerSeparate(c, dim, perLayer));
            }
            for (Layout l : layouts) {
                assertRegionsDisjointAndInside(c, l);
            }
        }
    }

    private static void assertRegionsDisjointAndInside(LayoutConfig c, Layout l) {
        List<MemoryRegion> all = new ArrayList<>();
        for (int b = 0; b < c.numBlocks(); b++) {
            for (int layer = 0; layer < c.numLayers(); layer++) {
                for (int o = 0; o < c.outerDim(); o++) {
                    MemoryRegion r = l.memoryRegion(b, layer, o);
                    assertThat(r.size()).isEqualTo(c.regionSize());
                    assertThat(l.regions()).as("%s (%d,%d,%d) inside a backing region", l, b, layer, o)
                            .anySatisfy(backing -> assertThat(backing.contains(r)).isTrue());
                    all.add(r);
                }
            }
        }
        all.sort(Comparator.comparingLong(MemoryRegion::address));
        for (int i = 1; i < all.size(); i++) {
            assertThat(all.get(i - 1).overlaps(all.get(i))).as("%s: %s vs %s", l, all.get(i - 1), all.get(i)).isFalse();
        }
        long total = all.stream().mapToLong(MemoryRegion::size).sum();
        assertThat(total).isEqualTo(c.totalSize());
    }
}
