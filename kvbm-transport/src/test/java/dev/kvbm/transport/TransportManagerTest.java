package dev.kvbm.transport;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.InvalidMetadataException;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.layout.LayoutDescriptor;
import dev.kvbm.layout.LayoutTypeDetails;
import dev.kvbm.layout.Layouts;
import dev.kvbm.layout.NixlMetadata;
import dev.kvbm.layout.OwnedLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Registration, metadata and validation rules of one TransportManager, over real memory. */
class TransportManagerTest {
    private static final LayoutConfig CONFIG = LayoutConfig.builder().numBlocks(4).numLayers(2).outerDim(2)
            .pageSize(4).innerDim(8).build();

    private final Backends backends = Backends.load(getClass().getClassLoader(), Set.of());
    private final StorageProvider memory = backends.storageProvider(StorageKind.SYSTEM);
    private final StorageProvider disk = backends.storageProvider(StorageKind.disk(0));
    private final List<AutoCloseable> resources = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (AutoCloseable r : resources.reversed()) {
            r.close();
        }
        assertThat(memory.bytesOutstanding()).isZero();
        assertThat(disk.bytesOutstanding()).isZero();
    }

    @Test
    void handlesCountFromZeroAndTheAgentNameDefaultsToTheWorker() {
        TransportManager m = track(TransportManager.builder().workerId(7).backends(backends).agentProvider("local")
                .build());
        assertThat(m.agentName()).isEqualTo("worker-7");
        assertThat(m.agent().orElseThrow().name()).isEqualTo("worker-7");
        assertThat(m.registerLayout(fc())).isEqualTo(new LayoutHandle(7, 0));
        assertThat(m.registerLayout(fc())).isEqualTo(new LayoutHandle(7, 1));
        assertThat(m.localHandles()).containsExactly(new LayoutHandle(7, 0), new LayoutHandle(7, 1));
    }

    @Test
    void layoutIdsRunOutAt65535() {
        // Ids are never reused: one layout registered and unregistered again and again takes every id.
        TransportManager m = track(TransportManager.builder().workerId(1)
                .backends(Backends.load(getClass().getClassLoader(), Set.of("system-memory", "system-copy")))
                .withoutAgent().build());
        assertThat(m.agent()).isEmpty();
        OwnedLayout layout = fc();
        for (int i = 0; i < 65535; i++) {
            LayoutHandle handle = m.registerLayout(layout);
            assertThat(handle.layoutId()).isEqualTo(i);
            m.unregisterLayout(handle);
        }
        assertThatThrownBy(() -> m.registerLayout(layout)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("65535");
        assertThatThrownBy(m::exportMetadata).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("built withoutAgent()");
        assertThatThrownBy(m::drainNotifications).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("receiving notifications needs a transfer agent");
    }

    @Test
    void diskLayoutsAreNeverExported() {
        TransportManager m = local(3);
        OwnedLayout onDisk = track(Layouts.builder(CONFIG).fullyContiguous().allocate(disk, StorageKind.disk(0)));
        LayoutHandle diskHandle = m.registerLayout(onDisk);
        LayoutHandle hostHandle = m.registerLayout(fc());
        RdmaLayoutDescriptors exported = m.exportMetadata().unpack();
        assertThat(exported.layouts()).extracting(LocalLayoutDescriptor::handle).containsExactly(hostHandle)
                .doesNotContain(diskHandle);
        assertThat(exported.workerAddress()).isEqualTo(new WorkerAddress(3, "worker-3"));
    }

    @Test
    void hostAndDiskMoveThroughTheSystemExecutor() throws Exception {
        TransportManager m = local(4);
        OwnedLayout host = fc();
        OwnedLayout onDisk = track(Layouts.builder(CONFIG).layerSeparate(BlockDimension.BLOCK_IS_FIRST_DIM)
                .allocate(disk, StorageKind.disk(0)));
        OwnedLayout back = fc();
        Patterns.fill(host, 5);
        LayoutHandle h = m.registerLayout(host);
        LayoutHandle d = m.registerLayout(onDisk);
        LayoutHandle r = m.registerLayout(back);
        m.executeTransfer(h, new int[] {0, 3}, d, new int[] {1, 2}, TransferOptions.DEFAULT).get(30, TimeUnit.SECONDS);
        m.executeTransfer(d, new int[] {1, 2}, r, new int[] {2, 0}, TransferOptions.DEFAULT).get(30, TimeUnit.SECONDS);
        for (int layer = 0; layer < CONFIG.numLayers(); layer++) {
            for (int o = 0; o < CONFIG.outerDim(); o++) {
                assertThat(Patterns.held(back, 2, layer, o)).isEqualTo(Patterns.expected(5, 0, layer, o, CONFIG));
                assertThat(Patterns.held(back, 0, layer, o)).isEqualTo(Patterns.expected(5, 3, layer, o, CONFIG));
            }
        }
        // Disk to disk has no executor: the error says how to do it.
        LayoutHandle d2 = m.registerLayout(track(Layouts.builder(CONFIG).fullyContiguous()
                .allocate(disk, StorageKind.disk(0))));
        assertThatThrownBy(() -> m.executeTransfer(d, new int[] {0}, d2, new int[] {0}, TransferOptions.DEFAULT))
                .isInstanceOf(UnsupportedOperationException.class)
                .hasMessageContaining("Disk(").hasMessageContaining("bounceBuffer");
    }

    @Test
    void aLayoutHasOneHandleSoATransferCannotReadAndWriteTheSameBytesUnderTwoNames() throws Exception {
        TransportManager m = track(TransportManager.builder().workerId(3).backends(backends).agentProvider("local")
                .build());
        OwnedLayout layout = fc();
        LayoutHandle first = m.registerLayout(layout);
        assertThatThrownBy(() -> m.registerLayout(layout)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("already registered here as " + first);
        assertThat(m.localHandles()).containsExactly(first);
        // Once unregistered, the same layout may come back under a new id (ids are never reused).
        m.unregisterLayout(first);
        LayoutHandle second = m.registerLayout(layout);
        assertThat(second.layoutId()).isEqualTo(1);
        assertThat(m.exportMetadata().unpack().layouts()).extracting(LocalLayoutDescriptor::handle)
                .containsExactly(second);
    }

    @Test
    void nullArgumentsAreNamed() {
        TransportManager m = track(TransportManager.builder().workerId(4).backends(backends).agentProvider("local")
                .build());
        assertThatThrownBy(() -> m.importMetadata(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("metadata");
        assertThatThrownBy(() -> TransferOptions.builder().writeNotification(null))
                .isInstanceOf(NullPointerException.class).hasMessage("bytes");
    }

    @Test
    void transfersAreValidatedBeforeAnythingMoves() {
        TransportManager m = local(5);
        OwnedLayout one = fc();
        Patterns.fill(one, 9);
        LayoutHandle a = m.registerLayout(one);
        LayoutHandle b = m.registerLayout(fc());
        LayoutHandle other = m.registerLayout(track(Layouts.builder(CONFIG.toBuilder().numLayers(3).build())
                .fullyContiguous().allocate(memory, StorageKind.SYSTEM)));
        TransferOptions none = TransferOptions.DEFAULT;

        assertThatThrownBy(() -> m.executeTransfer(a, new int[] {0, 1}, b, new int[] {0}, none))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2 source blocks but 1 destination");
        assertThatThrownBy(() -> m.executeTransfer(a, new int[] {0, 1}, b, new int[] {2, 2}, none))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("destination block 2 appears twice");
        assertThatThrownBy(() -> m.executeTransfer(a, new int[] {4}, b, new int[] {0}, none))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("source block 4");
        assertThatThrownBy(() -> m.executeTransfer(a, new int[] {0, 1}, a, new int[] {1, 2}, none))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("block 1 is read");
        assertThatThrownBy(() -> m.executeTransfer(a, new int[] {0}, other, new int[] {0}, none))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("incompatible");
        assertThatThrownBy(() -> m.executeTransfer(a, new int[] {0}, b, new int[] {0},
                TransferOptions.builder().layerRange(1, 3).build()))
                .isInstanceOf(IndexOutOfBoundsException.class).hasMessageContaining("layer range [1, 3)");
        assertThatThrownBy(() -> m.executeTransfer(a, new int[] {0}, b, new int[] {0},
                TransferOptions.builder().writeNotification(new byte[] {1}).build()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("is local");
        assertThatThrownBy(() -> m.executeTransfer(a, new int[] {0}, new LayoutHandle(5, 99), new int[] {0}, none))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("invalid destination handle");
        assertThatThrownBy(() -> m.executeTransfer(a, new int[] {0, 1, 2}, b, new int[] {0, 1, 2},
                TransferOptions.builder().bounceBuffer(a, 3).build()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("also an end of the transfer");
        // Within one layout, distinct blocks are fine.
        assertThat(m.executeTransfer(a, new int[] {0}, a, new int[] {3}, none)).succeedsWithin(java.time.Duration.ofSeconds(30));
        assertThat(Patterns.held(one, 3, 1, 1)).isEqualTo(Patterns.expected(9, 0, 1, 1, CONFIG));
    }

    @Test
    void aFailedHopFailsTheWholeTransferWithItsCause() {
        TransportManager m = local(6);
        TransportManager peer = local(16);
        LayoutHandle s = m.registerLayout(fc());
        LayoutHandle bounce = m.registerLayout(fc());
        OwnedLayout remote = fc();
        peer.registerLayout(remote);
        LayoutHandle d = m.importMetadata(peer.exportMetadata()).getFirst();
        remote.close(); // the peer withdraws it; the second hop's WRITE fails when it runs
        assertThatThrownBy(() -> m.executeTransfer(s, new int[] {0, 1, 2}, d, new int[] {0, 1, 2},
                TransferOptions.builder().bounceBuffer(bounce, 0, 1).build()).get(30, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).hasRootCauseInstanceOf(IllegalArgumentException.class)
                .rootCause().hasMessageContaining("outside the memory agent worker-16 has registered");
    }

    @Test
    void closingARegisteredLayoutWithdrawsItAndAClosedLayoutCannotBeRegistered() {
        TransportManager m = local(26);
        OwnedLayout layout = fc();
        LayoutHandle h = m.registerLayout(layout);
        LayoutHandle other = m.registerLayout(fc());
        layout.close();
        assertThat(m.localHandles()).containsExactly(other);
        assertThat(m.exportMetadata().unpack().layouts()).extracting(LocalLayoutDescriptor::handle)
                .containsExactly(other);
        assertThatThrownBy(() -> m.executeTransfer(h, new int[] {0}, other, new int[] {0}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("neither registered here");
        assertThatThrownBy(() -> m.registerLayout(layout)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("its storage is closed");
        assertThat(m.localHandles()).containsExactly(other);
    }

    @Test
    void importRejectsInconsistentMetadataAndRepeatedPeers() {
        TransportManager a = local(10);
        TransportManager b = local(11);
        b.registerLayout(fc());
        SerializedLayout fromB = b.exportMetadata();
        assertThat(a.importMetadata(fromB)).containsExactly(new LayoutHandle(11, 0));
        assertThatThrownBy(() -> a.importMetadata(fromB)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("remote worker already loaded: worker-11 (worker_id=11)");
        assertThatThrownBy(() -> a.importMetadata(a.exportMetadata())).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("this worker's own");

        RdmaLayoutDescriptors good = fromB.unpack();
        LocalLayoutDescriptor layout = good.layouts().getFirst();
        TransportManager c = local(12);
        // A handle of another worker.
        assertThatThrownBy(() -> c.importMetadata(SerializedLayout.pack(good.workerAddress(), good.nixlMetadata(),
                List.of(new LocalLayoutDescriptor(new LayoutHandle(99, 0), layout.layout())))))
                .isInstanceOf(InvalidMetadataException.class).hasMessageContaining("belongs to another worker");
        // A region too small for the config.
        LayoutDescriptor d = layout.layout();
        LayoutDescriptor shrunk = new LayoutDescriptor(d.version(), d.layoutConfig(), d.location(), d.nixlMetadata(),
                List.of(new MemoryRegion(d.memoryDescriptors().getFirst().address(), 16)), d.layoutTypeDetails());
        assertThatThrownBy(() -> c.importMetadata(SerializedLayout.pack(good.workerAddress(), good.nixlMetadata(),
                List.of(new LocalLayoutDescriptor(layout.handle(), shrunk)))))
                .isInstanceOf(InvalidMetadataException.class).hasMessageContaining("failed to rebuild layout");
        // Agent metadata that names a different agent than the worker address.
        assertThatThrownBy(() -> c.importMetadata(SerializedLayout.pack(new WorkerAddress(11, "someone-else"),
                good.nixlMetadata(), List.of())))
                .isInstanceOf(InvalidMetadataException.class).hasMessageContaining("agent name mismatch");
        // Nothing of the rejected imports was kept.
        assertThat(c.remoteHandles()).isEmpty();
        assertThat(c.importMetadata(fromB)).containsExactly(new LayoutHandle(11, 0));
    }

    @Test
    void aLayoutUnregisteredByItsOwnerIsUnreachableForPeers() {
        TransportManager a = local(20);
        TransportManager b = local(21);
        LayoutHandle mine = a.registerLayout(fc());
        LayoutHandle theirs = b.registerLayout(fc());
        a.importMetadata(b.exportMetadata());
        b.unregisterLayout(theirs);
        assertThatThrownBy(() -> a.executeTransfer(mine, new int[] {0}, theirs, new int[] {0},
                TransferOptions.DEFAULT).get(30, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).rootCause().hasMessageContaining("outside the memory");
    }

    @Test
    void descriptorsRoundTripThroughExport() {
        TransportManager m = local(30);
        OwnedLayout ls = track(Layouts.builder(CONFIG).layerSeparate(BlockDimension.BLOCK_IS_SECOND_DIM)
                .allocate(memory, StorageKind.SYSTEM));
        LayoutHandle handle = m.registerLayout(ls);
        assertThat(m.layout(handle)).hasValueSatisfying(p -> {
            assertThat(p.location()).isEqualTo(StorageKind.SYSTEM);
            assertThat(p.toDescriptor()).isEqualTo(ls.toDescriptor("worker-30"));
        });
        assertThat(m.layout(new LayoutHandle(30, 1))).isEmpty();
        LayoutDescriptor exported = m.exportMetadata().unpack().layouts().getFirst().layout();
        assertThat(exported.layoutTypeDetails())
                .isEqualTo(new LayoutTypeDetails.LayerSeparate(BlockDimension.BLOCK_IS_SECOND_DIM));
        assertThat(exported.nixlMetadata()).isEqualTo(new NixlMetadata("worker-30", MemType.DRAM, 0));
        assertThat(exported.memoryDescriptors()).isEqualTo(ls.regions());
        assertThat(Layouts.fromDescriptor(exported).layout().memoryRegion(3, 1, 1)).isEqualTo(ls.memoryRegion(3, 1, 1));
    }

    private TransportManager local(long id) {
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
