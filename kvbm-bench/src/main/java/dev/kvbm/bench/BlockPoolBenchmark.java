package dev.kvbm.bench;

import dev.kvbm.manager.BlockPool;
import dev.kvbm.manager.ImmutableBlock;
import dev.kvbm.manager.MutableBlock;
import dev.kvbm.manager.TokenBlockSequence;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The block pool's hot paths, per block, next to the baseline the issue names: one {@link HashMap} lookup per block
 * in a map as large as the pool's registry, in the same run ({@code kvbm bench pool} prints the ratios), and two
 * floors: a HashMap remove and put per block, what a general-purpose map does when a full pool turns a block over,
 * and {@code arrayPoolFloor16}, the whole allocate + register + release workload on {@link ArrayPoolFloor}, the
 * least pool that still does that workload's work.
 *
 * <ul>
 *   <li>{@code allocateRegisterRelease}: a request of 16 blocks, a prompt of its own, is allocated (evicting the
 *       least recently used inactive blocks once the pool is full, as in steady state), completed with its tokens
 *       and hashes, registered, and released to the inactive pool. The prompts come round after 4 pools' worth, so
 *       every registration is new and every allocation evicts a cold block.</li>
 *   <li>{@code match128}: a 128-block prefix, registered and inactive, is matched (every block revived) and
 *       released again: the whole life of a prefix hit.</li>
 *   <li>{@code matchOnly128}: the same match, timed alone: the blocks are released after each call, outside the
 *       time (JMH's per-invocation tear-down; its time stamps add a few nanoseconds to a call of about two
 *       microseconds, so the figure errs high).</li>
 *   <li>{@code matchShared128}: the same prefix while another request holds it (a shared system prompt): match
 *       adds a share of each block and release takes it back; nothing moves between active and inactive.</li>
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 2, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
public class BlockPoolBenchmark {
    static final int PAGE = 16;
    /** Blocks per pool and keys per baseline map; {@code -p poolBlocks=512} runs the cycle in a cache-sized pool. */
    @Param("4096")
    public int poolBlocks;
    static final int REQUEST = 16;
    static final int PREFIX = 128;

    private BlockPool pool;
    /** 4 x poolBlocks / REQUEST distinct prompts of REQUEST blocks: a prompt comes round only after its eviction. */
    private TokenBlockSequence[] requests;
    private int next;
    private BlockPool matchPool;
    private long[] prefix;
    private BlockPool sharedPool;
    private List<ImmutableBlock> sharedHolder;
    private Map<Long, Integer> baseline;
    private long[] baselineKeys;
    private int baselineNext;
    private ArrayPoolFloor arrayFloor;
    private int[][] requestTokens; // each request's tokens and hashes, for the array floor
    private long[][] requestHashes;
    private final int[] floorIds = new int[REQUEST];
    private int floorRequest;
    private Map<Long, Integer> floor;
    private long[] floorKeys;
    private int floorOld;
    private int floorNext;

    @Setup
    public void setUp() {
        if (poolBlocks < PREFIX || poolBlocks % REQUEST != 0) {
            throw new IllegalArgumentException("poolBlocks must be a multiple of " + REQUEST + " and at least " + PREFIX
                    + " (match128 matches a 128-block prefix of the pool), got " + poolBlocks);
        }
        pool = BlockPool.create("bench", poolBlocks, PAGE, BlockPool.Duplicates.REFUSE);
        requests = new TokenBlockSequence[4 * poolBlocks / REQUEST];
        for (int r = 0; r < requests.length; r++) {
            int[] tokens = new int[REQUEST * PAGE];
            for (int i = 0; i < tokens.length; i++) {
                tokens[i] = (r * tokens.length + i) * 31 + 7;
            }
            requests[r] = TokenBlockSequence.of(tokens, PAGE, 1337);
        }
        int[] tokens = new int[poolBlocks * PAGE];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = i * 31 + 7;
        }
        TokenBlockSequence stream = TokenBlockSequence.of(tokens, PAGE, 1337);

        // Each holds poolBlocks registered blocks (inactive), of which the prefix is the first 128.
        matchPool = registeredPool("bench-match", stream);
        prefix = java.util.Arrays.copyOf(stream.sequenceHashes(), PREFIX);
        sharedPool = registeredPool("bench-shared", stream);
        sharedHolder = sharedPool.match(prefix); // the other request, holding the prefix throughout

        baseline = new HashMap<>();
        long[] all = stream.sequenceHashes(); // the pool's registered hashes
        for (int i = 0; i < poolBlocks; i++) {
            baseline.put(all[i], i);
        }
        baselineKeys = java.util.Arrays.copyOf(all, poolBlocks);

        floorKeys = new long[requests.length * REQUEST]; // allocateRegisterRelease's hashes, in its order
        for (int r = 0; r < requests.length; r++) {
            System.arraycopy(requests[r].sequenceHashes(), 0, floorKeys, r * REQUEST, REQUEST);
        }
        floor = new HashMap<>();
        for (int i = 0; i < poolBlocks; i++) {
            floor.put(floorKeys[i], i);
        }
        floorNext = poolBlocks;

        arrayFloor = new ArrayPoolFloor(poolBlocks, PAGE);
        requestTokens = new int[requests.length][];
        requestHashes = new long[requests.length][];
        for (int r = 0; r < requests.length; r++) {
            requestTokens[r] = requests[r].tokens();
            requestHashes[r] = requests[r].sequenceHashes();
        }
    }

    /** A pool whose every block holds one block of {@code stream}, registered and released (inactive). */
    private BlockPool registeredPool(String name, TokenBlockSequence stream) {
        BlockPool p = BlockPool.create(name, poolBlocks, PAGE, BlockPool.Duplicates.REFUSE);
        List<MutableBlock> blocks = p.allocate(poolBlocks);
        List<MutableBlock> completed = new ArrayList<>(poolBlocks);
        for (int i = 0; i < poolBlocks; i++) {
            completed.add(blocks.get(i).complete(stream, i));
        }
        p.register(completed).forEach(ImmutableBlock::close);
        return p;
    }

    @TearDown
    public void tearDown() {
        sharedPool.release(sharedHolder);
        pool.close();
        matchPool.close();
        sharedPool.close();
    }

    /** What {@code matchOnly128} matched, released after each call outside the measured time. */
    @State(Scope.Thread)
    public static class Held {
        List<ImmutableBlock> blocks;
        BlockPool pool;

        @TearDown(Level.Invocation)
        public void release() {
            if (blocks != null) { // null when the call threw before handing its blocks over
                pool.release(blocks);
                blocks = null;
            }
        }
    }

    @Benchmark
    @OperationsPerInvocation(REQUEST)
    public void allocateRegisterRelease(Blackhole bh) {
        List<MutableBlock> blocks = pool.allocate(REQUEST);
        TokenBlockSequence request = requests[next];
        next = next + 1 == requests.length ? 0 : next + 1;
        for (int i = 0; i < REQUEST; i++) {
            blocks.get(i).complete(request, i);
        }
        List<ImmutableBlock> registered = pool.register(blocks);
        bh.consume(registered.getLast().blockId());
        pool.release(registered); // the request ends: its blocks go inactive, one lock for all

    }

    @Benchmark
    @OperationsPerInvocation(PREFIX)
    public void match128(Blackhole bh) {
        List<ImmutableBlock> hit = matchPool.match(prefix);
        bh.consume(hit.getLast().blockId());
        matchPool.release(hit);
    }

    @Benchmark
    @OperationsPerInvocation(PREFIX)
    public void matchOnly128(Held held, Blackhole bh) {
        List<ImmutableBlock> hit = matchPool.match(prefix);
        held.pool = matchPool;
        held.blocks = hit;
        bh.consume(hit.getLast().blockId());
    }

    @Benchmark
    @OperationsPerInvocation(PREFIX)
    public void matchShared128(Blackhole bh) {
        List<ImmutableBlock> hit = sharedPool.match(prefix);
        bh.consume(hit.getLast().blockId());
        sharedPool.release(hit);
    }

    /** Baseline: one HashMap lookup per block, in a map of the pool's size, 16 at a time. */
    @Benchmark
    @OperationsPerInvocation(REQUEST)
    public void hashMapLookup16(Blackhole bh) {
        for (int i = 0; i < REQUEST; i++) {
            bh.consume(baseline.get(baselineKeys[baselineNext]));
            baselineNext = baselineNext + 1 == baselineKeys.length ? 0 : baselineNext + 1;
        }
    }

    /**
     * Not a baseline but a floor: what any registry keyed by hash does per block when a full pool evicts one block and
     * registers another, one HashMap remove and one put, over allocateRegisterRelease's hashes in its order.
     */
    @Benchmark
    @OperationsPerInvocation(REQUEST)
    public void hashMapRemovePut16(Blackhole bh) {
        for (int i = 0; i < REQUEST; i++) {
            bh.consume(floor.remove(floorKeys[floorOld]));
            floor.put(floorKeys[floorNext], i);
            floorOld = floorOld + 1 == floorKeys.length ? 0 : floorOld + 1;
            floorNext = floorNext + 1 == floorKeys.length ? 0 : floorNext + 1;
        }
    }

    /**
     * Not a baseline but a floor: {@code allocateRegisterRelease}'s workload (its requests, in its order, from a full
     * pool of the same size) on {@link ArrayPoolFloor}, the least work a pool keyed by hash does to turn a block over:
     * primitive arrays, one release order, a registry with removal, reference counts, the tokens, ids for handles.
     */
    @Benchmark
    @OperationsPerInvocation(REQUEST)
    public void arrayPoolFloor16(Blackhole bh) {
        int[] ids = floorIds;
        arrayFloor.allocate(ids);
        int r = floorRequest;
        floorRequest = r + 1 == requests.length ? 0 : r + 1;
        int[] tokens = requestTokens[r];
        long[] hashes = requestHashes[r];
        for (int i = 0; i < REQUEST; i++) {
            arrayFloor.complete(ids[i], tokens, i * PAGE, hashes[i]);
        }
        bh.consume(arrayFloor.register(ids));
        arrayFloor.release(ids);
    }

    /** Baseline: one HashMap lookup per block of a 128-block prefix. */
    @Benchmark
    @OperationsPerInvocation(PREFIX)
    public void hashMapLookup128(Blackhole bh) {
        for (int i = 0; i < PREFIX; i++) {
            bh.consume(baseline.get(prefix[i]));
        }
    }
}
