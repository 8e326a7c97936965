package dev.kvbm.backend.nixl;

import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/** The ucx agent's metadata blob and control messages as untrusted input; no UCX needed. */
class UcxMetadataTest {
    private static final UcxMetadata GOOD = new UcxMetadata("prefill-0", new byte[] {1, 2, 3, 4, 5, 6},
            List.of(new UcxMetadata.Region(7, MemType.DRAM, new MemoryRegion(0x10000, 4096), 0, new byte[] {9, 9}),
                    new UcxMetadata.Region(8, MemType.VRAM, new MemoryRegion(0x20000, 8192), 1, new byte[] {8})));

    @Test
    void roundTripsEveryField() {
        UcxMetadata back = UcxMetadata.decode(GOOD.encode());
        assertThat(back.agentName()).isEqualTo("prefill-0");
        assertThat(back.workerAddress()).containsExactly(1, 2, 3, 4, 5, 6);
        assertThat(back.regions()).hasSize(2);
        assertThat(back.regions().get(1).memType()).isEqualTo(MemType.VRAM);
        assertThat(back.regions().get(1).deviceId()).isEqualTo(1);
        assertThat(back.regions().get(0).rkey()).containsExactly(9, 9);
        assertThat(back.regions().get(0).region()).isEqualTo(new MemoryRegion(0x10000, 4096));
    }

    @Test
    void everySingleBitFlipAndEveryTruncationIsRejectedBeforeUcxSeesIt() {
        byte[] good = GOOD.encode();
        for (int i = 0; i < good.length * 8; i++) {
            byte[] bad = good.clone();
            bad[i / 8] ^= (byte) (1 << (i % 8));
            assertThatThrownBy(() -> UcxMetadata.decode(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageStartingWith("not ucx agent metadata");
        }
        for (int n = 0; n < good.length; n++) {
            byte[] cut = Arrays.copyOf(good, n);
            assertThatThrownBy(() -> UcxMetadata.decode(cut)).isInstanceOf(IllegalArgumentException.class);
        }
        SplittableRandom random = new SplittableRandom(5);
        for (int i = 0; i < 10_000; i++) {
            byte[] noise = new byte[random.nextInt(200)];
            random.nextBytes(noise);
            try {
                UcxMetadata.decode(noise);
                fail("random bytes decoded");
            } catch (IllegalArgumentException expected) {
                assertThat(expected.getMessage()).isNotBlank();
            }
        }
    }

    @Test
    void aLocalAgentsBlobIsNamedAsSuch() {
        byte[] local = {'K', 'L', 'A', '1', 0, 1, 'x', 0, 0, 0, 0};
        assertThatThrownBy(() -> UcxMetadata.decode(local)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("metadata of a local agent").hasMessageContaining("not of a ucx agent");
    }

    @Test
    void overlappingRegionsDuplicateIdsAndHugeCountsAreRejectedEvenWithAValidChecksum() {
        assertRejected(new UcxMetadata("p", new byte[] {1}, List.of(
                new UcxMetadata.Region(1, MemType.DRAM, new MemoryRegion(0x1000, 4096), 0, new byte[] {1}),
                new UcxMetadata.Region(2, MemType.DRAM, new MemoryRegion(0x1800, 4096), 0, new byte[] {1}))), "overlap");
        assertRejected(new UcxMetadata("p", new byte[] {1}, List.of(
                new UcxMetadata.Region(1, MemType.DRAM, new MemoryRegion(0x1000, 16), 0, new byte[] {1}),
                new UcxMetadata.Region(1, MemType.DRAM, new MemoryRegion(0x9000, 16), 0, new byte[] {1}))),
                "appears twice");
        assertRejected(new UcxMetadata("p", new byte[] {1}, List.of(
                new UcxMetadata.Region(1, MemType.DRAM, new MemoryRegion(0x1000, 0), 0, new byte[] {1}))), "empty");
        // A region count of 2^62 with a matching checksum: rejected by arithmetic, nothing allocated for it.
        byte[] blob = new UcxMetadata("p", new byte[] {1}, List.of()).encode();
        ByteBuffer b = ByteBuffer.wrap(blob).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.putLong(4 + 8 + 1 + 8 + 1, 1L << 62);
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(blob, 0, blob.length - 4);
        b.putInt(blob.length - 4, (int) crc.getValue());
        assertThatThrownBy(() -> UcxMetadata.decode(blob)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("regions cannot fit");
    }

    @Test
    void controlMessagesDecodeStrictly() throws Exception {
        Wire.Message m = Wire.decode(ByteBuffer.wrap(Wire.attachAck("b", 42, new long[] {3, 4})));
        assertThat(m.type()).isEqualTo(Wire.ATTACH_ACK);
        assertThat(m.sender()).isEqualTo("b");
        assertThat(m.id()).isEqualTo(42);
        assertThat(m.ids()).containsExactly(3, 4);
        Wire.Message n = Wire.decode(ByteBuffer.wrap(Wire.notify("a", new byte[] {1, 2})));
        assertThat(n.bytes()).containsExactly(1, 2);
        byte[] revoke = Wire.revoke("a", 1, Wire.ALL_REGIONS);
        for (int cut = 0; cut < revoke.length; cut++) {
            byte[] shorter = Arrays.copyOf(revoke, cut);
            assertThatThrownBy(() -> Wire.decode(ByteBuffer.wrap(shorter))).isInstanceOf(Wire.MalformedException.class);
        }
        byte[] longer = Arrays.copyOf(revoke, revoke.length + 1);
        assertThatThrownBy(() -> Wire.decode(ByteBuffer.wrap(longer))).isInstanceOf(Wire.MalformedException.class)
                .hasMessageContaining("follow the message");
        byte[] unknown = revoke.clone();
        unknown[0] = 99;
        assertThatThrownBy(() -> Wire.decode(ByteBuffer.wrap(unknown))).isInstanceOf(Wire.MalformedException.class)
                .hasMessageContaining("unknown control message type 99");
    }

    private static void assertRejected(UcxMetadata md, String message) {
        assertThatThrownBy(() -> UcxMetadata.decode(md.encode())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }
}
