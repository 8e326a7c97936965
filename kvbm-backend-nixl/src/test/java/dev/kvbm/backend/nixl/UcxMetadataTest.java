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
        Wire.Message n = Wire.decode(ByteBuffer.wrap(Wire.notify("a", 77, new byte[] {1, 2})));
        assertThat(n.bytes()).containsExactly(1, 2);
        assertThat(n.id()).isEqualTo(77);
        Wire.Message ack = Wire.decode(ByteBuffer.wrap(Wire.notifyAck("b", 77, Wire.NOTIFY_INBOX_FULL)));
        assertThat(ack.regionId()).isEqualTo(Wire.NOTIFY_INBOX_FULL);
        byte[] badStatus = Wire.notifyAck("b", 77, 9);
        assertThatThrownBy(() -> Wire.decode(ByteBuffer.wrap(badStatus))).isInstanceOf(Wire.MalformedException.class)
                .hasMessageContaining("unknown notification status 9");
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

    private static final byte[] SECRET = "a cluster secret of the test fleet".getBytes();

    private static ClusterAuth fleet() {
        return ClusterAuth.withSecret(SECRET.clone());
    }

    @Test
    void authenticatedMetadataRoundTripsAndAnyChangeFailsItsMacBeforeAnythingIsParsed() {
        ClusterAuth mine = fleet();
        byte[] good = GOOD.encode(mine, 3);
        assertThat(new String(good, 0, 4, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("KUX2");
        UcxMetadata back = UcxMetadata.decode(good, fleet());
        assertThat(back.agentName()).isEqualTo("prefill-0");
        assertThat(back.regions()).hasSize(2);
        assertThat(back.instance()).containsExactly(mine.instance());
        assertThat(back.generation()).isEqualTo(3);
        for (int i = 4; i < good.length * 8; i++) { // past the magic, whose changes are refused as another format
            byte[] bad = good.clone();
            bad[i / 8] ^= (byte) (1 << (i % 8));
            assertThatThrownBy(() -> UcxMetadata.decode(bad, fleet())).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not ucx agent metadata");
        }
        // A peer that means harm changes two bytes of a packed rkey: with a checksum it could recompute it and make
        // UCX unpack its bytes (a crash in uct_rkey_release); with a MAC it cannot.
        byte[] forged = good.clone();
        int rkeyAt = indexOf(forged, new byte[] {9, 9});
        forged[rkeyAt] = 0x55;
        forged[rkeyAt + 1] = 0x66;
        assertThatThrownBy(() -> UcxMetadata.decode(forged, fleet())).hasMessageContaining("MAC does not verify");
        for (int n = 0; n < good.length; n++) {
            byte[] cut = Arrays.copyOf(good, n);
            assertThatThrownBy(() -> UcxMetadata.decode(cut, fleet())).isInstanceOf(IllegalArgumentException.class);
        }
        ClusterAuth other = ClusterAuth.withSecret("another fleet's secret, longer".getBytes());
        assertThatThrownBy(() -> UcxMetadata.decode(good, other)).hasMessageContaining("another cluster secret");
        assertThatThrownBy(() -> UcxMetadata.decode(good)).hasMessageContaining("this agent has none")
                .hasMessageContaining(ClusterAuth.SECRET_ENV);
        assertThatThrownBy(() -> UcxMetadata.decode(GOOD.encode(), fleet()))
                .hasMessageContaining("unauthenticated metadata");
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i <= haystack.length - needle.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        throw new AssertionError("not found");
    }

    @Test
    void envelopesAreBoundToTheirSecretTheirReceiverAndSaidOnce() throws Exception {
        ClusterAuth a = fleet();
        ClusterAuth b = fleet();
        byte[] revoke = Wire.revoke("a", 5, Wire.ALL_REGIONS);
        byte[] sealed = a.seal(revoke, "b");
        ClusterAuth.Opened opened = b.open(ByteBuffer.wrap(sealed), "b");
        assertThat(opened.message()).containsExactly(revoke);
        assertThat(opened.instance()).containsExactly(a.instance());
        for (int i = 0; i < sealed.length * 8; i++) {
            byte[] bad = sealed.clone();
            bad[i / 8] ^= (byte) (1 << (i % 8));
            assertThatThrownBy(() -> b.open(ByteBuffer.wrap(bad), "b")).isInstanceOf(Wire.MalformedException.class);
        }
        assertThatThrownBy(() -> b.open(ByteBuffer.wrap(sealed), "c")).isInstanceOf(Wire.MalformedException.class)
                .hasMessageContaining("meant for another agent than c");
        assertThatThrownBy(() -> b.open(ByteBuffer.wrap(ClusterAuth.trustedNetwork().seal(revoke, "b")), "b"))
                .hasMessageContaining("trusted-network mode");
        assertThatThrownBy(() -> ClusterAuth.trustedNetwork().open(ByteBuffer.wrap(sealed), "b"))
                .hasMessageContaining("this agent has no cluster secret");
        assertThatThrownBy(() -> ClusterAuth.withSecret("short".getBytes())).hasMessageContaining("5 bytes")
                .hasMessageNotContaining("short");

        ClusterAuth.Replay replay = new ClusterAuth.Replay();
        assertThat(replay.accept("a", opened.instance(), opened.counter())).isNull();
        assertThat(replay.accept("a", opened.instance(), opened.counter())).contains("received before");
        long c = opened.counter();
        assertThat(replay.accept("a", opened.instance(), c + 3)).isNull();
        assertThat(replay.accept("a", opened.instance(), c + 2)).as("out of order, within the window").isNull();
        assertThat(replay.accept("a", opened.instance(), c + 2)).contains("received before");
        assertThat(replay.accept("a", opened.instance(), c + 3 + ClusterAuth.Replay.WINDOW)).isNull();
        assertThat(replay.accept("a", opened.instance(), c + 1)).contains("older than");
        byte[] restarted = new byte[ClusterAuth.INSTANCE_BYTES];
        assertThat(replay.accept("a", restarted, 1)).as("a new run of the sender").isNull();
        assertThat(replay.accept("a", opened.instance(), c + 10_000)).contains("earlier run");
    }

    @Test
    void theSecretComesFromOneOptionTheFileOrTheEnvironmentAndIsNeverShown(@org.junit.jupiter.api.io.TempDir
                                                                               java.nio.file.Path dir)
            throws Exception {
        assertThat(ClusterAuth.fromOptions(java.util.Map.of(), java.util.Map.of()).authenticated()).isFalse();
        assertThat(ClusterAuth.fromOptions(java.util.Map.of(), java.util.Map.of()).describe())
                .contains("trusted-network mode");
        java.nio.file.Path file = java.nio.file.Files.writeString(dir.resolve("secret"), "0123456789abcdef0123\n");
        ClusterAuth fromFile = ClusterAuth.fromOptions(java.util.Map.of("secret_file", file.toString()),
                java.util.Map.of());
        ClusterAuth inline = ClusterAuth.fromOptions(java.util.Map.of("secret", "0123456789abcdef0123"),
                java.util.Map.of());
        ClusterAuth fromEnv = ClusterAuth.fromOptions(java.util.Map.of(),
                java.util.Map.of(ClusterAuth.SECRET_ENV, "0123456789abcdef0123"));
        byte[] m = Wire.detach("x", 1);
        for (ClusterAuth a : java.util.List.of(fromFile, inline, fromEnv)) {
            assertThat(a.authenticated()).isTrue();
            assertThat(a.describe()).doesNotContain("0123456789abcdef");
            for (ClusterAuth b : java.util.List.of(fromFile, inline, fromEnv)) {
                assertThat(b.open(ByteBuffer.wrap(a.seal(m, "y")), "y").message()).containsExactly(m);
            }
        }
        assertThatThrownBy(() -> ClusterAuth.fromOptions(java.util.Map.of("secret", "x".repeat(20), "secret_file",
                file.toString()), java.util.Map.of())).hasMessageContaining("both given");
        assertThatThrownBy(() -> ClusterAuth.fromOptions(java.util.Map.of("secret_file", dir.resolve("none")
                .toString()), java.util.Map.of())).hasMessageContaining("cannot read");
        assertThatThrownBy(() -> ClusterAuth.fromOptions(java.util.Map.of("secret_file", "/dev/zero"),
                java.util.Map.of())).hasMessageContaining("holds more than 4096 bytes"); // bounded: no endless read
        String options = new dev.kvbm.api.spi.AgentProvider.Options(java.time.Duration.ofSeconds(1),
                java.util.Map.of("secret", "do-not-print-me-0123")).toString();
        assertThat(options).doesNotContain("do-not-print-me").contains("(not shown)");
    }

    private static void assertRejected(UcxMetadata md, String message) {
        assertThatThrownBy(() -> UcxMetadata.decode(md.encode())).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }
}
