package dev.kvbm.manager.events;

import dev.kvbm.manager.BlockPool;
import dev.kvbm.manager.ImmutableBlock;
import dev.kvbm.manager.MutableBlock;
import dev.kvbm.manager.NotEnoughBlocksException;
import dev.kvbm.manager.TokenBlockSequence;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Random;

/**
 * A seeded stream of requests against one worker's pool, for the index tests: prompts built from a few shared
 * prefixes plus a random tail; each request allocates, completes and registers its blocks, holds them for a while
 * and releases them (so they go inactive, and later ones evict them under pressure).
 */
final class Workload {
    static final int PAGE = 4;
    static final long SALT = 1337;
    private final Random random;
    private final int[][] prefixes;
    private final Deque<List<ImmutableBlock>> held = new ArrayDeque<>();

    Workload(long seed) {
        this.random = new Random(seed);
        this.prefixes = prefixes(new Random(99)); // the same prefixes for every worker: they share prompts
    }

    static int[][] prefixes(Random r) {
        int[][] p = new int[6][];
        for (int i = 0; i < p.length; i++) {
            p[i] = r.ints(PAGE * (2 + r.nextInt(6)), 0, 50_000).toArray();
        }
        return p;
    }

    /** A prompt: one of the shared prefixes, maybe cut short, and a random tail. */
    static int[] prompt(Random r, int[][] prefixes) {
        int[] prefix = prefixes[r.nextInt(prefixes.length)];
        int keep = PAGE * r.nextInt(prefix.length / PAGE + 1);
        int tail = r.nextInt(4) == 0 ? 0 : PAGE * r.nextInt(4) + r.nextInt(PAGE);
        int[] out = new int[keep + tail];
        System.arraycopy(prefix, 0, out, 0, keep);
        for (int i = keep; i < out.length; i++) {
            out[i] = r.nextInt(50_000);
        }
        return out;
    }

    int[][] prefixes() {
        return prefixes;
    }

    /** Runs one request against {@code pool}. */
    void step(BlockPool pool) {
        TokenBlockSequence seq = TokenBlockSequence.of(prompt(random, prefixes), PAGE, SALT);
        int n = seq.completeBlocks();
        if (n == 0) {
            return;
        }
        List<MutableBlock> blocks;
        while (true) {
            try {
                blocks = pool.allocate(n);
                break;
            } catch (NotEnoughBlocksException e) {
                if (held.isEmpty()) {
                    return;
                }
                held.removeFirst().forEach(ImmutableBlock::close);
            }
        }
        for (int i = 0; i < n; i++) {
            blocks.get(i).complete(seq, i);
        }
        List<ImmutableBlock> registered = pool.register(blocks);
        held.addLast(new ArrayList<>(registered));
        while (held.size() > 3 || (random.nextInt(3) == 0 && !held.isEmpty())) {
            held.removeFirst().forEach(ImmutableBlock::close);
        }
    }

    /** Releases everything still held. */
    void releaseAll() {
        while (!held.isEmpty()) {
            held.removeFirst().forEach(ImmutableBlock::close);
        }
    }
}
