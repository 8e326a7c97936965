package dev.kvbm.transport;

import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Agent;
import dev.kvbm.api.spi.AgentDescriptor;
import dev.kvbm.api.spi.AgentProvider;
import dev.kvbm.api.spi.AgentTransfer;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.DescriptorList;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.layout.Layouts;
import dev.kvbm.layout.OwnedLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

/**
 * The program {@link CloseWhileReadTest} runs in a child JVM, so that a crash (reading or writing freed memory
 * through a raw address kills the JVM with SIGSEGV) fails that test instead of killing the build. It prints one
 * {@code RESULT} line and exits 0 only when nothing read freed memory.
 *
 * <ul>
 *   <li>{@code repro BLOCKS BLOCK_BYTES}: worker 1 registers a layout and publishes it, worker 2 imports it, worker 1
 *       closes the layout without unregistering it, and worker 2 READs every block. The READ must fail cleanly.</li>
 *   <li>{@code race THREADS ITERATIONS}: each thread owns a pair of {@code local} agents and, per iteration,
 *       registers fresh storage with one, READs it from the other and closes the storage while the READ runs. Each
 *       READ must either deliver exactly the storage's bytes or fail with a cause.</li>
 * </ul>
 */
public final class CloseWhileReadProgram {

    private CloseWhileReadProgram() {
    }

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "repro" -> repro(Integer.parseInt(args[1]), Integer.parseInt(args[2]));
            case "race" -> race(Integer.parseInt(args[1]), Integer.parseInt(args[2]));
            default -> throw new IllegalArgumentException("mode must be repro or race, got " + args[0]);
        }
    }

    private static void repro(int blocks, int blockBytes) throws Exception {
        Backends backends = Backends.shared();
        StorageProvider memory = backends.storageProvider(StorageKind.SYSTEM);
        LayoutConfig config = LayoutConfig.builder().numBlocks(blocks).numLayers(1).outerDim(1).pageSize(1)
                .innerDim(blockBytes / 2).dtypeWidthBytes(2).build();
        try (TransportManager prefill = TransportManager.builder().workerId(1).agentProvider("local").build();
             TransportManager decode = TransportManager.builder().workerId(2).agentProvider("local").build();
             OwnedLayout into = Layouts.builder(config).fullyContiguous().allocate(memory, StorageKind.SYSTEM)) {
            OwnedLayout published = Layouts.builder(config).fullyContiguous().allocate(memory, StorageKind.SYSTEM);
            prefill.registerLayout(published);
            LayoutHandle target = decode.registerLayout(into);
            LayoutHandle remote = decode.importMetadata(prefill.exportMetadata()).getFirst();
            published.close(); // not unregistered first: the close itself must withdraw it
            int[] ids = IntStream.range(0, blocks).toArray();
            try {
                decode.executeTransfer(remote, ids, target, ids).get(60, TimeUnit.SECONDS);
                System.out.println("RESULT read-freed-memory: a READ of a closed layout completed");
                System.exit(3);
            } catch (ExecutionException e) {
                System.out.println("RESULT failed-cleanly: " + e.getCause());
            } catch (IllegalArgumentException | IllegalStateException e) {
                System.out.println("RESULT rejected: " + e);
            }
            if (memory.bytesOutstanding() != into.storage().size()) {
                System.out.println("RESULT leaked: " + memory.bytesOutstanding() + " bytes outstanding");
                System.exit(4);
            }
        }
    }

    private static void race(int threads, int iterations) throws Exception {
        Backends backends = Backends.shared();
        StorageProvider memory = backends.storageProvider(StorageKind.SYSTEM);
        AgentProvider local = backends.agentProvider("local");
        AtomicLong completed = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        List<CompletableFuture<Void>> workers = new ArrayList<>();
        // Threads of its own: the common pool may have a single thread here, which would run the workers in turn.
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        int size = 64 * 1024;
        for (int t = 0; t < threads; t++) {
            int thread = t;
            workers.add(CompletableFuture.runAsync(() -> {
                AgentProvider.Options options = new AgentProvider.Options(Duration.ofSeconds(30), Map.of());
                try (Agent reader = local.create("race-reader-" + thread, options);
                     Agent owner = local.create("race-owner-" + thread, options);
                     HostStorage into = (HostStorage) memory.allocate(StorageKind.SYSTEM, size)) {
                    reader.register(into);
                    for (int i = 0; i < iterations; i++) {
                        byte fill = (byte) (i * 31 + thread);
                        HostStorage victim = (HostStorage) memory.allocate(StorageKind.SYSTEM, size);
                        victim.segment().fill(fill);
                        owner.register(victim);
                        reader.loadRemoteMetadata(owner.localMetadata());
                        into.segment().fill((byte) ~fill);
                        CompletableFuture<Void> read = reader.post(new AgentTransfer(AgentTransfer.Operation.READ,
                                list(into.region()), owner.name(), list(victim.region()), null));
                        victim.close(); // races the READ on the agent's copy thread
                        try {
                            read.get(60, TimeUnit.SECONDS);
                            MemorySegment got = into.segment();
                            for (long k = 0; k < size; k++) {
                                if (got.get(ValueLayout.JAVA_BYTE, k) != fill) {
                                    throw new AssertionError("iteration " + i + ": a READ racing close completed"
                                            + " but byte " + k + " is not what the storage held");
                                }
                            }
                            completed.incrementAndGet();
                        } catch (ExecutionException e) {
                            if (e.getCause() == null) {
                                throw new AssertionError("a READ racing close failed without a cause");
                            }
                            failed.incrementAndGet();
                        }
                    }
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            }, pool));
        }
        CompletableFuture.allOf(workers.toArray(CompletableFuture[]::new)).get(9, TimeUnit.MINUTES);
        pool.shutdown();
        System.out.printf("RESULT race: %d completed, %d failed cleanly, %d bytes outstanding%n", completed.get(),
                failed.get(), memory.bytesOutstanding());
        System.exit(memory.bytesOutstanding() == 0 && completed.get() + failed.get() == (long) threads * iterations
                ? 0 : 5);
    }

    private static DescriptorList list(MemoryRegion region) {
        return new DescriptorList(MemType.DRAM, List.of(new AgentDescriptor(region, 0)));
    }
}
