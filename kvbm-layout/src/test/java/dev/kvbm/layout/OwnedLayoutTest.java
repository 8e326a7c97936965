package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.StorageProvider;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Layouts over real native memory from the system backend, found through ServiceLoader. */
class OwnedLayoutTest {
    private final StorageProvider provider =
            Backends.load(getClass().getClassLoader(), Set.of()).storageProvider(StorageKind.SYSTEM);

    private static final LayoutConfig CONFIG = LayoutConfig.builder().numBlocks(5).numLayers(3).outerDim(2)
            .pageSize(3).innerDim(7).dtypeWidthBytes(2).alignment(64).build();

    @Test
    void fullyContiguousOwnsOneAlignedAllocation() {
        long before = provider.bytesOutstanding();
        try (OwnedLayout l = Layouts.builder(CONFIG).fullyContiguous().allocate(provider, StorageKind.SYSTEM)) {
            assertThat(l.isFullyContiguous()).isTrue();
            assertThat(l.kind()).isEqualTo(StorageKind.SYSTEM);
            assertThat(l.storage().size()).isEqualTo(CONFIG.totalSize());
            assertThat(l.regions().getFirst().address() % 4096).isZero();
            writeEveryRegionAndReadBack(l);
        }
        assertThat(provider.bytesOutstanding()).isEqualTo(before);
    }

    @Test
    void blockAndRegionSegmentsAreTheLayoutsBytesAndRefuseWhatTheyCannotBe() throws Exception {
        OwnedLayout fc = Layouts.builder(CONFIG).fullyContiguous().allocate(provider, StorageKind.SYSTEM);
        MemorySegment block = fc.blockSegment(4);
        MemoryRegion expected = ((FullyContiguousLayout) fc.layout()).blockRegion(4);
        assertThat(block.address()).isEqualTo(expected.address());
        assertThat(block.byteSize()).isEqualTo(CONFIG.blockSize());
        MemorySegment region = fc.segment(4, 2, 1);
        assertThat(region.address()).isEqualTo(fc.memoryRegion(4, 2, 1).address());
        assertThat(region.byteSize()).isEqualTo(CONFIG.regionSize());
        region.fill((byte) 9);
        assertThat(block.get(ValueLayout.JAVA_BYTE, region.address() - block.address())).isEqualTo((byte) 9);
        assertThatThrownBy(() -> fc.blockSegment(5)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessageContaining("numBlocks");
        assertThatThrownBy(() -> fc.segment(0, 3, 0)).isInstanceOf(IndexOutOfBoundsException.class);
        fc.close();
        assertThatThrownBy(() -> fc.blockSegment(0)).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> block.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);

        try (OwnedLayout ls = Layouts.builder(CONFIG).layerSeparate(BlockDimension.BLOCK_IS_FIRST_DIM)
                .allocate(provider, StorageKind.SYSTEM)) {
            assertThatThrownBy(() -> ls.blockSegment(0)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("use segment(block, layer, outer)");
            assertThat(ls.segment(1, 2, 0).address()).isEqualTo(ls.memoryRegion(1, 2, 0).address());
        }
        StorageProvider disk = Backends.load(getClass().getClassLoader(), Set.of())
                .storageProvider(StorageKind.disk(0));
        try (OwnedLayout onDisk = Layouts.builder(CONFIG).fullyContiguous().allocate(disk, StorageKind.disk(0))) {
            assertThatThrownBy(() -> onDisk.blockSegment(0)).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("not host memory");
        }
    }

    @Test
    void layerSeparateSlicesOneAllocationAt512ByteStarts() {
        for (BlockDimension dim : BlockDimension.values()) {
            try (OwnedLayout l = Layouts.builder(CONFIG).layerSeparate(dim).allocate(provider, StorageKind.SYSTEM)) {
                assertThat(l.regions()).hasSize(3);
                long perLayer = 5L * 2 * CONFIG.regionSize(); // 420 bytes
                for (MemoryRegion r : l.regions()) {
                    assertThat(r.address() % LayoutBuilder.LAYER_ALIGNMENT).isZero();
                    assertThat(r.size()).isEqualTo(perLayer);
                    assertThat(l.storage().region().contains(r)).isTrue();
                }
                assertThat(l.storage().size()).isEqualTo(2 * 512 + perLayer);
                writeEveryRegionAndReadBack(l);
            }
        }
    }

    @Test
    void closeFreesTheStorageAndIsIdempotent() {
        OwnedLayout l = Layouts.builder(CONFIG).allocate(provider, StorageKind.SYSTEM);
        l.close();
        l.close();
        assertThat(l.storage().isClosed()).isTrue();
        assertThatThrownBy(() -> ((HostStorage) l.storage()).segment()).isInstanceOf(IllegalStateException.class);
        // Address math still answers; the memory is what is gone.
        assertThat(l.memoryRegion(0, 0, 0).size()).isEqualTo(CONFIG.regionSize());
    }

    @Test
    void anUnsupportedKindIsRejectedByTheProvider() {
        assertThatThrownBy(() -> Layouts.builder(CONFIG).allocate(provider, StorageKind.device(0)))
                .hasMessageContaining("cannot allocate Device(0) storage");
    }

    /** Stamps each region with its own coordinates and checks no write clobbered another region. */
    private static void writeEveryRegionAndReadBack(OwnedLayout l) {
        MemorySegment seg = ((HostStorage) l.storage()).segment();
        long base = l.storage().region().address();
        LayoutConfig c = l.config();
        for (int pass = 0; pass < 2; pass++) {
            for (int b = 0; b < c.numBlocks(); b++) {
                for (int layer = 0; layer < c.numLayers(); layer++) {
                    for (int o = 0; o < c.outerDim(); o++) {
                        MemoryRegion r = l.memoryRegion(b, layer, o);
                        byte stamp = (byte) (b * 31 + layer * 7 + o + 1);
                        MemorySegment slice = seg.asSlice(r.address() - base, r.size());
                        if (pass == 0) {
                            slice.fill(stamp);
                        } else {
                            for (long i = 0; i < r.size(); i++) {
                                assertThat(slice.get(ValueLayout.JAVA_BYTE, i)).isEqualTo(stamp);
                            }
                        }
                    }
                }
            }
        }
    }
}
