package dev.kvbm.transport;

import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.layout.OwnedLayout;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;

/**
 * Fill patterns and checksums over real host memory: every (block, layer, outer) region of a layout gets bytes
 * derived from (seed, block, layer, outer), so a checksum names exactly which source region a destination region
 * must now hold.
 */
final class Patterns {
    private Patterns() {
    }

    /** Fills every region of every block of {@code layout} with its pattern under {@code seed}. */
    static void fill(OwnedLayout layout, long seed) {
        LayoutConfig c = layout.config();
        for (int b = 0; b < c.numBlocks(); b++) {
            for (int l = 0; l < c.numLayers(); l++) {
                for (int o = 0; o < c.outerDim(); o++) {
                    byte[] bytes = pattern(seed, b, l, o, (int) c.regionSize());
                    MemorySegment.copy(MemorySegment.ofArray(bytes), 0, bytesOf(layout, layout.memoryRegion(b, l, o)),
                            0, bytes.length);
                }
            }
        }
    }

    /** Checksum of the bytes {@code layout} holds now at (block, layer, outer). */
    static long held(OwnedLayout layout, int block, int layer, int outer) {
        CRC32C crc = new CRC32C();
        crc.update(bytesOf(layout, layout.memoryRegion(block, layer, outer)).asByteBuffer());
        return crc.getValue();
    }

    /** Checksum of the pattern a layout filled with {@code seed} holds at (block, layer, outer). */
    static long expected(long seed, int block, int layer, int outer, LayoutConfig config) {
        CRC32C crc = new CRC32C();
        crc.update(pattern(seed, block, layer, outer, (int) config.regionSize()));
        return crc.getValue();
    }

    private static byte[] pattern(long seed, int block, int layer, int outer, int size) {
        byte[] bytes = new byte[size];
        new SplittableRandom(seed * 1_000_003L + block * 7_919L + layer * 131L + outer).nextBytes(bytes);
        return bytes;
    }

    private static MemorySegment bytesOf(OwnedLayout layout, MemoryRegion region) {
        MemorySegment segment = ((HostStorage) layout.storage()).segment();
        return segment.asSlice(region.address() - segment.address(), region.size());
    }
}
