package dev.kvbm.bench;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.RegionPair;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.api.spi.TransferBatch;
import dev.kvbm.api.spi.TransferExecutor;
import dev.kvbm.layout.BlockTransfers;
import dev.kvbm.layout.Layouts;
import dev.kvbm.layout.OwnedLayout;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Copies 256 random whole blocks of a realistic KV cache (32 layers, K and V, 16 tokens, 1024 elements of 2 bytes:
 * 2 MiB a block, 512 MiB in all) through the public path — plan with {@link BlockTransfers}, validate and coalesce
 * in a {@link TransferBatch}, copy on the system backend's executor — and, as the baseline in the same run, one
 * bulk {@link MemorySegment#copy} of the same 512 MiB on one thread. {@link CopyRatios} runs it and prints the
 * ratios. The executor runs with its default two copy threads and, for comparison, with one.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
// Two forks each: on the VMs measured here, a fork started right after another is markedly slower for every
// benchmark (bulk copy included), so every benchmark gets one fork in each position (docs/performance.md).
@Fork(value = 2, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-Xms1g", "-Xmx1g"})
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 4, time = 2)
public class BlockCopyBenchmark {

    static final int NUM_BLOCKS = 512;
    static final int COPIED_BLOCKS = 256;

    static final LayoutConfig CONFIG = LayoutConfig.builder().numBlocks(NUM_BLOCKS).numLayers(32).outerDim(2)
            .pageSize(16).innerDim(1024).dtypeWidthBytes(2).build();

    /** Threads of the executor under test (the system backend's default is 2). */
    @Param({"2", "1"})
    public int copyThreads;

    private OwnedLayout fcSource;
    private OwnedLayout lsSource;
    private OwnedLayout fcDestination;
    private TransferExecutor executor;
    private int[] srcBlocks;
    private int[] dstBlocks;
    private MemorySegment bulkSource;
    private MemorySegment bulkDestination;
    private ExecutorService bulkPool;

    @Setup(Level.Trial)
    public void setUp() {
        Backends backends = Backends.load();
        StorageProvider memory = backends.storageProvider(StorageKind.SYSTEM);
        // The system backend reads its copy-thread count from this property (HostCopyExecutorProvider).
        System.setProperty("kvbm.copy.threads", Integer.toString(copyThreads));
        executor = backends.executorProvider(StorageKind.SYSTEM, StorageKind.SYSTEM).create();
        bulkPool = Executors.newFixedThreadPool(2);
        fcSource = Layouts.builder(CONFIG).fullyContiguous().allocate(memory, StorageKind.SYSTEM);
        lsSource = Layouts.builder(CONFIG).layerSeparate(BlockDimension.BLOCK_IS_FIRST_DIM)
                .allocate(memory, StorageKind.SYSTEM);
        fcDestination = Layouts.builder(CONFIG).fullyContiguous().allocate(memory, StorageKind.SYSTEM);
        SplittableRandom random = new SplittableRandom(42);
        fillRandom(segment(fcSource), random);
        fillRandom(segment(lsSource), random);
        fillRandom(segment(fcDestination), random);
        srcBlocks = distinctBlocks(random);
        dstBlocks = distinctBlocks(random);
        long bytes = COPIED_BLOCKS * CONFIG.blockSize();
        bulkSource = segment(fcSource).asSlice(0, bytes);
        bulkDestination = segment(fcDestination).asSlice(0, bytes);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        executor.close();
        bulkPool.shutdown();
        fcSource.close();
        lsSource.close();
        fcDestination.close();
    }

    /** Baseline: one copy of the same number of bytes. */
    @Benchmark
    public void bulkCopy() {
        MemorySegment.copy(bulkSource, 0, bulkDestination, 0, bulkSource.byteSize());
    }

    /** Context, not a target: the same bytes as two halves copied on two threads at once. */
    @Benchmark
    public void bulkCopyTwoThreads() throws Exception {
        long half = bulkSource.byteSize() / 2;
        Future<?> first = bulkPool.submit(() -> MemorySegment.copy(bulkSource, 0, bulkDestination, 0, half));
        MemorySegment.copy(bulkSource, half, bulkDestination, half, bulkSource.byteSize() - half);
        first.get();
    }

    @Benchmark
    public void fullyContiguousToFullyContiguous() {
        copy(fcSource);
    }

    @Benchmark
    public void layerSeparateToFullyContiguous() {
        copy(lsSource);
    }

    private void copy(OwnedLayout source) {
        List<RegionPair> pairs = BlockTransfers.plan(source, srcBlocks, fcDestination, dstBlocks);
        executor.execute(new TransferBatch(source.storage(), fcDestination.storage(), pairs)).join();
    }

    private static MemorySegment segment(OwnedLayout layout) {
        return ((HostStorage) layout.storage()).segment();
    }

    private static void fillRandom(MemorySegment segment, SplittableRandom random) {
        long words = segment.byteSize() / 8;
        for (long i = 0; i < words; i++) {
            segment.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, random.nextLong());
        }
    }

    private static int[] distinctBlocks(SplittableRandom random) {
        int[] all = new int[NUM_BLOCKS];
        for (int i = 0; i < NUM_BLOCKS; i++) {
            all[i] = i;
        }
        for (int i = NUM_BLOCKS - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        return java.util.Arrays.copyOf(all, COPIED_BLOCKS);
    }
}
