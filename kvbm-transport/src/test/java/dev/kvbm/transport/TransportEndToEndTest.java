package dev.kvbm.transport;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.Notification;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.layout.Layouts;
import dev.kvbm.layout.OwnedLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Two workers in one JVM, each with its own TransportManager and {@code local} agent, over real System memory
 * from the system backend (all found through ServiceLoader). Every destination region is checked against the
 * checksum of the source region it must now hold, and every region a transfer must not touch against the guard
 * pattern it was filled with.
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class TransportEndToEndTest {
    private static final LayoutConfig CONFIG = LayoutConfig.builder().numBlocks(8).numLayers(4).outerDim(2)
            .pageSize(16).innerDim(64).dtypeWidthBytes(2).build(); // 2 KiB regions, 16 KiB blocks
    private static final long SEED_A_FC = 11;
    private static final long SEED_B_LS = 22;
    private static final long SEED_B_FC = 33;
    private static final long SEED_A_LS = 44;

    private final Backends backends = Backends.load(getClass().getClassLoader(), Set.of());
    private final StorageProvider memory = backends.storageProvider(StorageKind.SYSTEM);
    private final List<AutoCloseable> resources = new ArrayList<>();

    private TransportManager a;
    private TransportManager b;
    private OwnedLayout aFc;
    private OwnedLayout aLs;
    private OwnedLayout aBounce;
    private OwnedLayout bLs;
    private OwnedLayout bFc;
    private LayoutHandle aFcHandle;
    private LayoutHandle aLsHandle;
    private LayoutHandle aBounceHandle;
    private LayoutHandle bLsHandle;
    private LayoutHandle bFcHandle;

    @BeforeEach
    void twoWorkersThatImportedEachOther() {
        a = manager(1);
        b = manager(2);
        aFc = layout(Layouts.builder(CONFIG).fullyContiguous(), SEED_A_FC);
        aLs = layout(Layouts.builder(CONFIG).layerSeparate(BlockDimension.BLOCK_IS_SECOND_DIM), SEED_A_LS);
        aBounce = layout(Layouts.builder(CONFIG.toBuilder().numBlocks(4).build()).fullyContiguous(), 0);
        bLs = layout(Layouts.builder(CONFIG).layerSeparate(BlockDimension.BLOCK_IS_FIRST_DIM), SEED_B_LS);
        bFc = layout(Layouts.builder(CONFIG).fullyContiguous(), SEED_B_FC);
        aFcHandle = a.registerLayout(aFc);
        aLsHandle = a.registerLayout(aLs);
        aBounceHandle = a.registerLayout(aBounce);
        bLsHandle = b.registerLayout(bLs);
        bFcHandle = b.registerLayout(bFc);

        assertThat(a.importMetadata(b.exportMetadata())).containsExactly(bLsHandle, bFcHandle);
        assertThat(b.importMetadata(a.exportMetadata())).containsExactly(aFcHandle, aLsHandle, aBounceHandle);
        assertThat(a.remoteHandles()).containsExactly(bLsHandle, bFcHandle);
    }

    @AfterEach
    void closeManagersBeforeTheirMemory() throws Exception {
        if (a != null) {
            a.close();
        }
        if (b != null) {
            b.close();
        }
        for (AutoCloseable r : resources) {
            r.close();
        }
        assertThat(memory.bytesOutstanding()).isZero();
    }

    @Test
    void remoteWriteFullyContiguousToLayerSeparateAndReadBack() throws Exception {
        // WRITE: A's FullyContiguous blocks 0,1,2 -> B's LayerSeparate blocks 5,3,4.
        int[] src = {0, 1, 2};
        int[] dst = {5, 3, 4};
        a.executeTransfer(aFcHandle, src, bLsHandle, dst, TransferOptions.DEFAULT).get(30, TimeUnit.SECONDS);
        assertMoved(bLs, dst, SEED_A_FC, src, 0, CONFIG.numLayers());
        assertUntouched(bLs, SEED_B_LS, 5, 3, 4);

        // READ them back: B's LayerSeparate 5,3,4 -> A's FullyContiguous 7,6,5.
        int[] back = {7, 6, 5};
        a.executeTransfer(bLsHandle, dst, aFcHandle, back, TransferOptions.DEFAULT).get(30, TimeUnit.SECONDS);
        assertMoved(aFc, back, SEED_A_FC, src, 0, CONFIG.numLayers());
        assertUntouched(aFc, SEED_A_FC, 7, 6, 5);
    }

    @Test
    void localCopiesBetweenLayoutTypesBothWays() throws Exception {
        a.executeTransfer(aFcHandle, new int[] {1, 2}, aLsHandle, new int[] {6, 0}, TransferOptions.DEFAULT)
                .get(30, TimeUnit.SECONDS);
        assertMoved(aLs, new int[] {6, 0}, SEED_A_FC, new int[] {1, 2}, 0, CONFIG.numLayers());
        assertUntouched(aLs, SEED_A_LS, 6, 0);

        a.executeTransfer(aLsHandle, new int[] {3}, aFcHandle, new int[] {4}, TransferOptions.DEFAULT)
                .get(30, TimeUnit.SECONDS);
        assertMoved(aFc, new int[] {4}, SEED_A_LS, new int[] {3}, 0, CONFIG.numLayers());
        assertUntouched(aFc, SEED_A_FC, 4);
    }

    @Test
    void layerRangeMovesOnlyThoseLayers() throws Exception {
        TransferOptions layers = TransferOptions.builder().layerRange(1, 3).build();
        a.executeTransfer(aFcHandle, new int[] {0, 1}, bLsHandle, new int[] {6, 7}, layers).get(30, TimeUnit.SECONDS);
        assertMoved(bLs, new int[] {6, 7}, SEED_A_FC, new int[] {0, 1}, 1, 3);
        for (int block : new int[] {6, 7}) {
            for (int layer : new int[] {0, 3}) {
                for (int o = 0; o < CONFIG.outerDim(); o++) {
                    assertThat(Patterns.held(bLs, block, layer, o))
                            .as("layer %d of block %d is outside the range and keeps its bytes", layer, block)
                            .isEqualTo(Patterns.expected(SEED_B_LS, block, layer, o, CONFIG));
                }
            }
        }
        assertUntouched(bLs, SEED_B_LS, 6, 7);
    }

    @Test
    void remoteReadThroughADoubleBufferedBounceBuffer() throws Exception {
        // B's FullyContiguous 0..4 -> A's bounce blocks (two halves of 2) -> A's LayerSeparate 7,5,3,1,0.
        int[] src = {0, 1, 2, 3, 4};
        int[] dst = {7, 5, 3, 1, 0};
        TransferOptions viaBounce = TransferOptions.builder().bounceBuffer(aBounceHandle, 0, 1, 2, 3).build();
        a.executeTransfer(bFcHandle, src, aLsHandle, dst, viaBounce).get(30, TimeUnit.SECONDS);
        assertMoved(aLs, dst, SEED_B_FC, src, 0, CONFIG.numLayers());
        assertUntouched(aLs, SEED_A_LS, dst);
    }

    @Test
    void localTwoHopWithASingleBounceBlock() throws Exception {
        int[] src = {2, 3, 4};
        int[] dst = {1, 2, 3};
        TransferOptions viaBounce = TransferOptions.builder().bounceBuffer(aBounceHandle, 3).build();
        a.executeTransfer(aLsHandle, src, aFcHandle, dst, viaBounce).get(30, TimeUnit.SECONDS);
        assertMoved(aFc, dst, SEED_A_LS, src, 0, CONFIG.numLayers());
        assertUntouched(aFc, SEED_A_FC, dst);
    }

    @Test
    void remoteWriteDeliversItsNotificationOnceAfterTheData() throws Exception {
        byte[] note = "blocks 2,3 ready".getBytes(StandardCharsets.UTF_8);
        TransferOptions notify = TransferOptions.builder().writeNotification(note).build();
        a.executeTransfer(aFcHandle, new int[] {0, 1}, bFcHandle, new int[] {2, 3}, notify).get(30, TimeUnit.SECONDS);
        List<Notification> received = b.drainNotifications();
        assertThat(received).containsExactly(new Notification(a.agentName(), note));
        assertThat(b.drainNotifications()).isEmpty();
        assertThat(a.agent().orElseThrow().drainNotifications()).isEmpty();
        assertMoved(bFc, new int[] {2, 3}, SEED_A_FC, new int[] {0, 1}, 0, CONFIG.numLayers());
        assertUntouched(bFc, SEED_B_FC, 2, 3);
    }

    @Test
    void anEmptyWriteDeliversItsNotificationThroughABounceBufferAsDirectly() throws Exception {
        byte[] note = "nothing to copy, only this".getBytes(StandardCharsets.UTF_8);
        TransferOptions direct = TransferOptions.builder().writeNotification(note).build();
        TransferOptions bounced = TransferOptions.builder().writeNotification(note).bounceBuffer(aBounceHandle, 0, 1)
                .build();
        for (TransferOptions options : List.of(direct, bounced)) {
            a.executeTransfer(aFcHandle, new int[0], bFcHandle, new int[0], options).get(30, TimeUnit.SECONDS);
            assertThat(b.drainNotifications()).as("%s", options).containsExactly(new Notification(a.agentName(), note));
        }
        assertUntouched(bFc, SEED_B_FC);
    }

    @Test
    void remoteReadByTheOtherWorker() throws Exception {
        // B reads A's LayerSeparate blocks into its own FullyContiguous ones.
        b.executeTransfer(aLsHandle, new int[] {0, 7}, bFcHandle, new int[] {6, 1}, TransferOptions.DEFAULT)
                .get(30, TimeUnit.SECONDS);
        assertMoved(bFc, new int[] {6, 1}, SEED_A_LS, new int[] {0, 7}, 0, CONFIG.numLayers());
        assertUntouched(bFc, SEED_B_FC, 6, 1);
    }

    @Test
    void aForgottenPeerIsUnreachableUntilReimported() throws Exception {
        assertThat(a.forgetRemote(2)).isTrue();
        assertThatThrownBy(() -> a.executeTransfer(aFcHandle, new int[] {0}, bFcHandle, new int[] {0},
                TransferOptions.DEFAULT)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("neither registered here nor imported");
        assertThat(a.importMetadata(b.exportMetadata())).containsExactly(bLsHandle, bFcHandle);
        a.executeTransfer(aFcHandle, new int[] {0}, bFcHandle, new int[] {0}, TransferOptions.DEFAULT)
                .get(30, TimeUnit.SECONDS);
        assertMoved(bFc, new int[] {0}, SEED_A_FC, new int[] {0}, 0, CONFIG.numLayers());
    }

    private TransportManager manager(long id) {
        return TransportManager.builder().workerId(id).agentName("e2e-worker-" + id).backends(backends)
                .agentProvider("local").build();
    }

    private OwnedLayout layout(dev.kvbm.layout.LayoutBuilder builder, long seed) {
        OwnedLayout layout = builder.allocate(memory, StorageKind.SYSTEM);
        resources.add(layout);
        Patterns.fill(layout, seed);
        return layout;
    }

    /** Layers [from, to) of {@code dst[i]} hold what the source filled with {@code seed} held at {@code src[i]}. */
    private static void assertMoved(OwnedLayout layout, int[] dst, long seed, int[] src, int from, int to) {
        for (int i = 0; i < dst.length; i++) {
            for (int layer = from; layer < to; layer++) {
                for (int o = 0; o < CONFIG.outerDim(); o++) {
                    assertThat(Patterns.held(layout, dst[i], layer, o))
                            .as("block %d layer %d outer %d must hold source block %d", dst[i], layer, o, src[i])
                            .isEqualTo(Patterns.expected(seed, src[i], layer, o, CONFIG));
                }
            }
        }
    }

    /** Every block except {@code written} still holds its own pattern: the guard blocks. */
    private static void assertUntouched(OwnedLayout layout, long seed, int... written) {
        Set<Integer> skip = new java.util.HashSet<>();
        for (int w : written) {
            skip.add(w);
        }
        for (int block = 0; block < layout.config().numBlocks(); block++) {
            if (skip.contains(block)) {
                continue;
            }
            for (int layer = 0; layer < CONFIG.numLayers(); layer++) {
                for (int o = 0; o < CONFIG.outerDim(); o++) {
                    assertThat(Patterns.held(layout, block, layer, o))
                            .as("guard block %d layer %d outer %d must be unchanged", block, layer, o)
                            .isEqualTo(Patterns.expected(seed, block, layer, o, CONFIG));
                }
            }
        }
    }
}
