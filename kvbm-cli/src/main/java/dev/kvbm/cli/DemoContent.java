package dev.kvbm.cli;

import dev.kvbm.manager.ModelShape;
import dev.kvbm.manager.TokenBlockSequence;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * What the demo computes and checks, the same in every process: the model shape, the seeded requests (prompts
 * that share prefixes), and the KV bytes of a block — derived from its sequence hash (which stands for every token
 * up to and including the block), its layer and K/V half, so that any reader can check a block it holds.
 */
final class DemoContent {
    static final ModelShape SHAPE = new ModelShape(4, 2, 16, 64, 2); // 16 KiB blocks: 4 layers x K,V x 2 KiB
    static final long SALT = 1337;

    private DemoContent() {
    }

    /** The requests: each a prompt made of one of {@code prefixes} shared prefixes and a tail of its own. */
    static List<int[]> requests(long seed, int count, int prefixes) {
        SplittableRandom shared = new SplittableRandom(seed);
        int[][] heads = new int[prefixes][];
        for (int i = 0; i < prefixes; i++) {
            heads[i] = shared.ints(SHAPE.pageSize() * (4 + shared.nextInt(5)), 0, 128_000).toArray();
        }
        SplittableRandom r = new SplittableRandom(seed * 31 + 7);
        List<int[]> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int[] head = heads[r.nextInt(prefixes)];
            int tail = SHAPE.pageSize() * (1 + r.nextInt(4)) + r.nextInt(SHAPE.pageSize());
            int[] prompt = java.util.Arrays.copyOf(head, head.length + tail);
            for (int t = head.length; t < prompt.length; t++) {
                prompt[t] = r.nextInt(128_000);
            }
            out.add(prompt);
        }
        return out;
    }

    static TokenBlockSequence sequence(int[] prompt) {
        return TokenBlockSequence.of(prompt, SHAPE.pageSize(), SALT);
    }

    /** Fills one layer-half of a block with its bytes. */
    static void fill(MemorySegment region, long sequenceHash, int layer, int outer) {
        SplittableRandom r = new SplittableRandom(sequenceHash * 0x9E3779B97F4A7C15L + layer * 2L + outer);
        for (long i = 0; i < region.byteSize(); i += 8) {
            region.set(ValueLayout.JAVA_LONG_UNALIGNED, i, r.nextLong());
        }
    }

    /** Whether one layer-half of a block holds its bytes; returns the first wrong byte offset, or -1. */
    static long check(MemorySegment region, long sequenceHash, int layer, int outer) {
        SplittableRandom r = new SplittableRandom(sequenceHash * 0x9E3779B97F4A7C15L + layer * 2L + outer);
        for (long i = 0; i < region.byteSize(); i += 8) {
            if (region.get(ValueLayout.JAVA_LONG_UNALIGNED, i) != r.nextLong()) {
                return i;
            }
        }
        return -1;
    }
}
