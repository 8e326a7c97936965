package dev.kvbm.manager;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Backends;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.StorageProvider;
import dev.kvbm.layout.OwnedLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.zip.CRC32C;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A G1 that no backend copies to disk directly (a GPU without GPUDirect Storage; here the {@code fake-device} test
 * double over real host memory, with real disk files): eviction to G3 and onboard from G3 go through the manager's
 * host bounce buffer, and the bytes come back identical.
 */
@Timeout(value = 1, unit = TimeUnit.MINUTES)
class BounceBufferTest {
    @TempDir
    Path dir;

    @Test
    void deviceToDiskAndBackGoThroughTheBounceBuffer() {
        Backends loaded = Backends.load(getClass().getClassLoader(), Set.of());
        StorageProvider memory = loaded.storageProvider(StorageKind.SYSTEM);
        StorageProvider disk = loaded.storageProvider(StorageKind.disk(0)).inDirectory(dir);
        TestDoubles.FakeDeviceCopies deviceCopies = new TestDoubles.FakeDeviceCopies();
        Backends backends = Backends.of(List.of(new TestDoubles.FakeDeviceMemory(memory), memory, disk),
                List.of(deviceCopies, loaded.executorProvider(StorageKind.SYSTEM, StorageKind.disk(0))), List.of());
        TokenBlockSequence a = KvBlockManagerTest.sequence(0, 4);
        TokenBlockSequence b = KvBlockManagerTest.sequence(500, 4);
        try (KvBlockManager kvbm = KvBlockManager.builder().model(KvBlockManagerTest.SHAPE).backends(backends)
                .withoutAgent().offload(4, 2).tier(Tier.G1, TierSpec.blocks(4)).tier(Tier.G3, TierSpec.blocks(16))
                .build()) {
            assertThat(kvbm.layout(Tier.G1).kind()).as("G1 goes to the GPU backend when there is one")
                    .isEqualTo(StorageKind.device(0));
            assertThat(kvbm.toString()).contains("bounce buffer of 4 blocks on System");
            long[] sums = new long[4];
            List<MutableBlock> blocks = kvbm.allocate(4);
            List<MutableBlock> filled = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                sums[i] = write(kvbm.layout(Tier.G1), blocks.get(i).blockId(), a.sequenceHash(i));
                filled.add(blocks.get(i).complete(a, i));
            }
            KvBlockManager.closeAll(kvbm.register(filled));
            KvBlockManager.closeAll(kvbm.allocate(4)); // evicts A from G1: written back to G3 through the bounce
            assertThat(kvbm.metrics().hop(Tier.G1, Tier.G3).blocks()).isEqualTo(4);
            int deviceBatches = deviceCopies.batches.get();
            assertThat(deviceBatches).as("device -> bounce copies").isGreaterThanOrEqualTo(2);

            try (PrefixMatch hit = kvbm.match(a.sequenceHashes());
                 OnboardResult up = kvbm.onboard(hit.blocks()).join()) {
                assertThat(hit.blocks()).allMatch(x -> x.tier().equals("G3"));
                assertThat(up.isComplete()).isTrue();
                for (int i = 0; i < 4; i++) {
                    assertThat(checksum(kvbm.layout(Tier.G1), up.onboarded().get(i).blockId())).isEqualTo(sums[i]);
                }
            }
            assertThat(deviceCopies.batches.get()).as("bounce -> device copies").isGreaterThan(deviceBatches);
            assertThat(kvbm.metrics().hop(Tier.G3, Tier.G1).blocks()).isEqualTo(4);
        }
        assertThat(memory.bytesOutstanding()).isZero();
        assertThat(disk.bytesOutstanding()).isZero();
    }

    /** The fake device's bytes of one region, reached through the host memory under it (test only). */
    private static MemorySegment region(OwnedLayout layout, int block, int layer, int outer) {
        HostStorage host = ((TestDoubles.FakeDeviceStorage) layout.storage()).inner();
        MemoryRegion r = layout.memoryRegion(block, layer, outer);
        return host.segment().asSlice(r.address() - host.region().address(), r.size());
    }

    private static long write(OwnedLayout layout, int block, long seed) {
        CRC32C crc = new CRC32C();
        for (int l = 0; l < layout.config().numLayers(); l++) {
            for (int o = 0; o < layout.config().outerDim(); o++) {
                MemorySegment s = region(layout, block, l, o);
                for (long i = 0; i < s.byteSize(); i += 8) {
                    s.set(ValueLayout.JAVA_LONG_UNALIGNED, i, seed * 31 + i + l * 7 + o);
                }
                crc.update(s.asByteBuffer());
            }
        }
        return crc.getValue();
    }

    private static long checksum(OwnedLayout layout, int block) {
        CRC32C crc = new CRC32C();
        for (int l = 0; l < layout.config().numLayers(); l++) {
            for (int o = 0; o < layout.config().outerDim(); o++) {
                crc.update(region(layout, block, l, o).asByteBuffer());
            }
        }
        return crc.getValue();
    }
}
