package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.spi.RegionPair;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BlockTransfersTest {
    private static final LayoutConfig C = LayoutConfig.builder().numBlocks(4).numLayers(3).outerDim(2).pageSize(4)
            .innerDim(8).build(); // region 64 bytes, block 384 bytes

    private final Layout fcA = Layouts.fullyContiguous(C, new MemoryRegion(0x10000, C.totalSize()));
    private final Layout fcB = Layouts.fullyContiguous(C, new MemoryRegion(0x20000, C.totalSize()));
    private final Layout ls = Layouts.layerSeparate(C, BlockDimension.BLOCK_IS_FIRST_DIM, List.of(
            new MemoryRegion(0x30000, 512), new MemoryRegion(0x31000, 512), new MemoryRegion(0x32000, 512)));

    @Test
    void wholeBlocksBetweenFullyContiguousLayoutsAreOnePairPerBlock() {
        List<RegionPair> pairs = BlockTransfers.plan(fcA, new int[] {3, 0}, fcB, new int[] {1, 2});
        assertThat(pairs).containsExactly(
                new RegionPair(new MemoryRegion(0x10000 + 3 * 384, 384), new MemoryRegion(0x20000 + 384, 384)),
                new RegionPair(new MemoryRegion(0x10000, 384), new MemoryRegion(0x20000 + 2 * 384, 384)));
    }

    @Test
    void otherwiseOnePairPerLayerAndOuter() {
        List<RegionPair> pairs = BlockTransfers.plan(ls, new int[] {1}, fcA, new int[] {2});
        assertThat(pairs).hasSize(3 * 2);
        assertThat(pairs.get(3)).isEqualTo(new RegionPair(ls.memoryRegion(1, 1, 1), fcA.memoryRegion(2, 1, 1)));
    }

    @Test
    void aLayerRangeCopiesOnlyThoseLayers() {
        List<RegionPair> pairs = BlockTransfers.plan(fcA, new int[] {0, 1}, fcB, new int[] {0, 1}, 1, 2);
        assertThat(pairs).hasSize(2 * 2).allSatisfy(p -> {
            long offset = (p.source().address() - 0x10000) % 384;
            assertThat(offset).isBetween(128L, 255L);
        });
    }

    @Test
    void validatesBeforePlanning() {
        assertThatThrownBy(() -> BlockTransfers.plan(fcA, new int[] {0, 1}, fcB, new int[] {0}))
                .hasMessage("2 source blocks but 1 destination blocks; the lists pair up one to one");
        assertThatThrownBy(() -> BlockTransfers.plan(fcA, new int[] {0, 1}, fcB, new int[] {3, 3}))
                .hasMessageContaining("destination block 3 appears twice (positions 0 and 1)");
        assertThatThrownBy(() -> BlockTransfers.plan(fcA, new int[] {4}, fcB, new int[] {0}))
                .isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("source block 4 at position 0 out of range: must be 0..3 (numBlocks=4)");
        assertThatThrownBy(() -> BlockTransfers.plan(fcA, new int[] {0}, fcB, new int[] {-1}))
                .hasMessageContaining("destination block -1");
        assertThatThrownBy(() -> BlockTransfers.plan(fcA, new int[] {0}, fcB, new int[] {0}, 2, 2))
                .hasMessageContaining("layer range [2, 2) invalid");
        LayoutConfig other = C.toBuilder().innerDim(16).build();
        Layout wide = Layouts.fullyContiguous(other, new MemoryRegion(0x90000, other.totalSize()));
        assertThatThrownBy(() -> BlockTransfers.plan(fcA, new int[] {0}, wide, new int[] {0}))
                .hasMessageContaining("layouts are incompatible: source has 3 layers x 2 outer x 64-byte regions,"
                        + " destination 3 x 2 x 128");
    }
}
