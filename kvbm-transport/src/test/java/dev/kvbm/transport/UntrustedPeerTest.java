package dev.kvbm.transport;

import dev.kvbm.api.InvalidMetadataException;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.layout.LayoutDescriptor;
import dev.kvbm.layout.Layouts;
import dev.kvbm.layout.OwnedLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Findings of an adversarial probe of the public API, one test each: what a forged or conflicting peer, or a
 * careless caller, could do before, and what happens now. Workers share one JVM through the {@code local} agent.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class UntrustedPeerTest {
    private static final LayoutConfig CONFIG = LayoutConfig.builder().numBlocks(4).numLayers(2).outerDim(2)
            .pageSize(4).innerDim(8).build();

    private final Backends backends = Backends.load(getClass().getClassLoader(), Set.of());
    private final StorageProvider memory = backends.storageProvider(StorageKind.SYSTEM);
    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable r : resources.reversed()) {
            r.close();
        }
        assertThat(memory.bytesOutstanding()).isZero();
    }

    @Test
    void aNumBlocksChosenByAPeerCostsNothingInProportion() throws Exception {
        TransportManager a = worker(1);
        TransportManager b = worker(2);
        LayoutHandle mine = a.registerLayout(fc());
        b.registerLayout(fc());
        RdmaLayoutDescriptors real = b.exportMetadata().unpack();
        LocalLayoutDescriptor published = real.layouts().getFirst();
        LayoutDescriptor d = published.layout();
        int huge = Integer.MAX_VALUE;
        long blockBytes = d.layoutConfig().regionSize() * CONFIG.outerDim() * CONFIG.numLayers();
        LayoutDescriptor forged = new LayoutDescriptor(d.version(), d.layoutConfig().toBuilder().numBlocks(huge).build(),
                d.location(), d.nixlMetadata(),
                List.of(new MemoryRegion(d.memoryDescriptors().getFirst().address(), blockBytes * huge)),
                d.layoutTypeDetails());
        LayoutHandle theirs = a.importMetadata(SerializedLayout.pack(real.workerAddress(), real.nixlMetadata(),
                List.of(new LocalLayoutDescriptor(published.handle(), forged)))).getFirst();
        // Block 0 is inside what the peer registered: it moves. Before, validating this one-block transfer
        // allocated an int per claimed block (8 GiB) and threw OutOfMemoryError.
        assertThat(a.executeTransfer(theirs, new int[] {0}, mine, new int[] {1})).succeedsWithin(Duration.ofSeconds(30));
        // The last claimed block is far outside: refused by the peer's real registration, not read.
        assertThatThrownBy(() -> a.executeTransfer(theirs, new int[] {huge - 1}, mine, new int[] {2})
                .get(30, TimeUnit.SECONDS)).hasStackTraceContaining("outside the memory agent worker-2");
    }

    @Test
    void aRejectedImportChangesNothingForTheHealthyPeerItNamed() throws Exception {
        TransportManager a = worker(3);
        TransportManager b = worker(4);
        LayoutHandle mine = a.registerLayout(fc());
        b.registerLayout(fc());
        RdmaLayoutDescriptors fromB = b.exportMetadata().unpack();
        LayoutHandle theirs = a.importMetadata(b.exportMetadata()).getFirst();
        // A second worker id carrying b's agent blob, once under b's agent name and once under another.
        assertThatThrownBy(() -> a.importMetadata(SerializedLayout.pack(new WorkerAddress(40, "worker-4"),
                fromB.nixlMetadata(), List.of()))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("agent 'worker-4' is already loaded as worker 4");
        assertThatThrownBy(() -> a.importMetadata(SerializedLayout.pack(new WorkerAddress(41, "worker-41"),
                fromB.nixlMetadata(), List.of()))).isInstanceOf(InvalidMetadataException.class)
                .hasMessageContaining("agent name mismatch");
        // Before, the second import invalidated b in the agent: this transfer then failed and b could not be
        // re-imported.
        assertThat(a.executeTransfer(mine, new int[] {0}, theirs, new int[] {0})).succeedsWithin(Duration.ofSeconds(30));
        assertThat(a.remoteHandles()).containsExactly(theirs);
    }

    @Test
    void aWorkerIdAndAnAgentNameEachIdentifyOnePeer() throws Exception {
        TransportManager a = worker(5);
        TransportManager b = worker(6);
        TransportManager impostor = track(TransportManager.builder().workerId(6).agentName("impostor")
                .backends(backends).agentProvider("local").build());
        LayoutHandle mine = a.registerLayout(fc());
        LayoutHandle theirs = b.registerLayout(fc());
        impostor.registerLayout(fc());
        a.importMetadata(b.exportMetadata());
        // An agent claiming worker 6, already imported: before, accepted, and a WRITE to b's handle landed in the
        // impostor's memory.
        assertThatThrownBy(() -> a.importMetadata(impostor.exportMetadata())).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("remote worker already loaded: worker-6 (worker_id=6)");
        // Worker 7 naming b's agent: before, accepted, and forgetting worker 7 broke b.
        TransportManager seven = track(TransportManager.builder().workerId(7).agentName("seven").backends(backends)
                .agentProvider("local").build());
        RdmaLayoutDescriptors fromB = b.exportMetadata().unpack();
        assertThatThrownBy(() -> a.importMetadata(SerializedLayout.pack(new WorkerAddress(7, "worker-6"),
                fromB.nixlMetadata(), List.of()))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("already loaded as worker 6");
        assertThat(a.forgetRemote(7)).isFalse();
        assertThat(a.executeTransfer(mine, new int[] {0}, theirs, new int[] {1})).succeedsWithin(Duration.ofSeconds(30));
        // A worker importing its own agent under another id: before, it slipped past the same-block check.
        RdmaLayoutDescriptors own = a.exportMetadata().unpack();
        List<LocalLayoutDescriptor> renamed = own.layouts().stream()
                .map(l -> new LocalLayoutDescriptor(new LayoutHandle(99, l.handle().layoutId()), l.layout())).toList();
        assertThatThrownBy(() -> a.importMetadata(SerializedLayout.pack(new WorkerAddress(99, "worker-5"),
                own.nixlMetadata(), renamed))).isInstanceOf(InvalidMetadataException.class)
                .hasMessageContaining("this worker's own agent");
        assertThat(seven.agentName()).isEqualTo("seven");
    }

    @Test
    void closeFromATransfersCompletionCallbackReturns() throws Exception {
        TransportManager a = worker(8);
        LayoutHandle x = a.registerLayout(fc());
        LayoutHandle y = a.registerLayout(fc());
        CompletableFuture<Void> closed = a.executeTransfer(x, new int[] {0}, y, new int[] {0}).thenRun(a::close);
        // Before, the executor waited for its own thread here and the future never completed.
        assertThat(closed).succeedsWithin(Duration.ofSeconds(30));
        assertThatThrownBy(() -> a.executeTransfer(x, new int[] {1}, y, new int[] {1}))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("is closed");
    }

    @Test
    void closeFromARemoteTransfersCompletionCallbackReturns() throws Exception {
        TransportManager a = worker(9);
        TransportManager b = worker(10);
        LayoutHandle mine = a.registerLayout(fc());
        b.registerLayout(fc());
        LayoutHandle theirs = a.importMetadata(b.exportMetadata()).getFirst();
        CompletableFuture<Void> closed = a.executeTransfer(theirs, new int[] {0}, mine, new int[] {0})
                .thenRun(a::close).thenRun(b::close);
        assertThat(closed).succeedsWithin(Duration.ofSeconds(30));
    }

    @Test
    void aClosedLayoutCannotBeRegisteredOrExported() {
        TransportManager a = worker(11);
        OwnedLayout closed = Layouts.builder(CONFIG).fullyContiguous().allocate(memory, StorageKind.SYSTEM);
        closed.close();
        assertThatThrownBy(() -> a.registerLayout(closed)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("its storage is closed");
        assertThat(a.exportMetadata().unpack().layouts()).isEmpty();
    }

    private TransportManager worker(long id) {
        return track(TransportManager.builder().workerId(id).backends(backends).agentProvider("local").build());
    }

    private OwnedLayout fc() {
        return track(Layouts.builder(CONFIG).fullyContiguous().allocate(memory, StorageKind.SYSTEM));
    }

    private <T extends AutoCloseable> T track(T resource) {
        resources.add(resource);
        return resource;
    }
}
