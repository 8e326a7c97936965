package dev.kvbm.manager;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.layout.OwnedLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;

/** What an engine does with KV bytes in the tests: write a pattern into G1 blocks, and checksum blocks. */
final class Kv {
    private Kv() {
    }

    /** Writes bytes derived from {@code seed} into every region of host-memory block {@code block}. */
    static void write(OwnedLayout layout, int block, long seed) {
        long x = seed * 0x9E3779B97F4A7C15L + 1;
        for (int l = 0; l < layout.config().numLayers(); l++) {
            for (int o = 0; o < layout.config().outerDim(); o++) {
                MemorySegment s = layout.segment(block, l, o);
                for (long i = 0; i + 8 <= s.byteSize(); i += 8) {
                    x ^= x << 13;
                    x ^= x >>> 7;
                    x ^= x << 17;
                    s.set(ValueLayout.JAVA_LONG_UNALIGNED, i, x);
                }
            }
        }
    }

    /** {@return a CRC-32C of every region of host-memory block {@code block}, in (layer, outer) order} */
    static long checksum(OwnedLayout layout, int block) {
        CRC32C crc = new CRC32C();
        for (int l = 0; l < layout.config().numLayers(); l++) {
            for (int o = 0; o < layout.config().outerDim(); o++) {
                crc.update(layout.segment(block, l, o).asByteBuffer());
            }
        }
        return crc.getValue();
    }

    /** {@return every region of block {@code block}: in a LayerSeparate layout they are not adjacent} */
    static List<MemoryRegion> regions(OwnedLayout layout, int block) {
        List<MemoryRegion> out = new ArrayList<>();
        for (int l = 0; l < layout.config().numLayers(); l++) {
            for (int o = 0; o < layout.config().outerDim(); o++) {
                out.add(layout.memoryRegion(block, l, o));
            }
        }
        return out;
    }

    /**
     * One request: allocate G1 blocks for the complete blocks of {@code seq}, write KV derived from each block's
     * sequence hash, complete and register them.
     */
    static List<ImmutableBlock> prefill(KvBlockManager kvbm, TokenBlockSequence seq) {
        int n = seq.completeBlocks();
        List<MutableBlock> blocks = kvbm.allocate(n);
        List<MutableBlock> filled = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            MutableBlock b = blocks.get(i);
            write(kvbm.layout(Tier.G1), b.blockId(), seq.sequenceHash(i));
            filled.add(b.complete(seq, i));
        }
        return kvbm.register(filled);
    }

    /** {@return the checksum a block of this hash has when written by {@link #prefill}} */
    static long expected(OwnedLayout like, long sequenceHash) {
        try (var scratch = dev.kvbm.layout.Layouts.builder(like.config().toBuilder().numBlocks(1).build())
                .fullyContiguous().allocate(dev.kvbm.api.spi.Backends.shared()
                        .storageProvider(dev.kvbm.api.StorageKind.SYSTEM), dev.kvbm.api.StorageKind.SYSTEM)) {
            write(scratch, 0, sequenceHash);
            return checksum(scratch, 0);
        }
    }

    static int[] tokens(int from, int count) {
        int[] t = new int[count];
        for (int i = 0; i < count; i++) {
            t[i] = from + i;
        }
        return t;
    }
}
