package dev.kvbm.transport;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.InnerShape;
import dev.kvbm.api.InvalidMetadataException;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.layout.LayoutDescriptor;
import dev.kvbm.layout.LayoutTypeDetails;
import dev.kvbm.layout.NixlMetadata;
import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.util.HexFormat;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class SerializedLayoutTest {

    @Test
    void dynamosFixtureDecodesToItsValues() {
        RdmaLayoutDescriptors value = SerializedLayout.fromBytes(Fixtures.DYNAMO_BYTES).unpack();
        assertThat(value.workerAddress()).isEqualTo(new WorkerAddress(100, "worker_100"));
        assertThat(value.nixlMetadata()).containsExactly(1, 2, 3, 4, 5);
        assertThat(value.layouts()).hasSize(1);
        assertThat(value.layouts().getFirst().handle()).isEqualTo(new LayoutHandle(100, 1));
        assertThat(value.layouts().getFirst().layout()).isEqualTo(Fixtures.DYNAMO_DESCRIPTOR);
        assertThat(value).isEqualTo(Fixtures.DYNAMO_VALUE);
    }

    @Test
    void dynamosValuesEncodeToDynamosBytes() {
        RdmaLayoutDescriptors v = Fixtures.DYNAMO_VALUE;
        SerializedLayout packed = SerializedLayout.pack(v.workerAddress(), v.nixlMetadata(), v.layouts());
        assertThat(HexFormat.of().formatHex(packed.toBytes())).isEqualTo(HexFormat.of().formatHex(Fixtures.DYNAMO_BYTES));
        assertThat(packed.size()).isEqualTo(62);
        assertThat(SerializedLayout.fromBytes(packed.toBytes()).unpack()).isEqualTo(v);
    }

    @Test
    void everyVariantAndWideValueSurvivesARoundTrip() {
        LayoutConfig config = LayoutConfig.builder().numBlocks(Integer.MAX_VALUE).numLayers(1).outerDim(1)
                .pageSize(1).innerDim(1).dtypeWidthBytes(1).alignment(1 << 30).innerShape(InnerShape.HND).build();
        List<LocalLayoutDescriptor> layouts = List.of(
                new LocalLayoutDescriptor(new LayoutHandle(-1L, 65535), new LayoutDescriptor(1, config,
                        StorageKind.device(7), new NixlMetadata("gpu-agent", MemType.VRAM, 7),
                        List.of(new MemoryRegion(-8192L, 4096)), new LayoutTypeDetails.LayerSeparate(
                        BlockDimension.BLOCK_IS_SECOND_DIM))),
                new LocalLayoutDescriptor(new LayoutHandle(-1L, 0), new LayoutDescriptor(-1, config,
                        StorageKind.disk(-2L), new NixlMetadata("ü-agent", MemType.UNKNOWN, -1L),
                        List.of(), new LayoutTypeDetails.LayerSeparate(BlockDimension.BLOCK_IS_FIRST_DIM))),
                new LocalLayoutDescriptor(new LayoutHandle(0, 250), new LayoutDescriptor(1, config,
                        StorageKind.PINNED, new NixlMetadata("", MemType.FILE, 251),
                        List.of(new MemoryRegion(0, 0), new MemoryRegion(65536, 65535)),
                        new LayoutTypeDetails.LayerSeparate(BlockDimension.BLOCK_IS_FIRST_DIM))));
        SerializedLayout packed = SerializedLayout.pack(new WorkerAddress(-1L, "w"), new byte[300], layouts);
        RdmaLayoutDescriptors back = SerializedLayout.fromBytes(packed.toBytes()).unpack();
        assertThat(back.layouts()).isEqualTo(layouts);
        assertThat(back.workerAddress().workerId()).isEqualTo(-1L);
    }

    @Test
    void aDescriptorAloneHasTheBytesItHasInsideTheMetadataAndIsDecodedStrictly() {
        LocalLayoutDescriptor layout = Fixtures.DYNAMO_VALUE.layouts().getFirst();
        byte[] bytes = LayoutDescriptorBytes.toBytes(layout.layout());
        assertThat(LayoutDescriptorBytes.fromBytes(bytes)).isEqualTo(layout.layout());
        String fixture = java.util.HexFormat.of().formatHex(Fixtures.DYNAMO_BYTES);
        assertThat(fixture).endsWith(java.util.HexFormat.of().formatHex(bytes));
        byte[] trailing = java.util.Arrays.copyOf(bytes, bytes.length + 1);
        assertThatThrownBy(() -> LayoutDescriptorBytes.fromBytes(trailing))
                .isInstanceOf(InvalidMetadataException.class).hasMessageContaining("failed to decode a layout descriptor");
        assertThatThrownBy(() -> LayoutDescriptorBytes.fromBytes(java.util.Arrays.copyOf(bytes, bytes.length - 1)))
                .isInstanceOf(InvalidMetadataException.class);
    }

    @Test
    void handleIsWorkerIdOrLayoutIdShiftedBy64() {
        LayoutHandle h = new LayoutHandle(100, 1);
        assertThat(h.toU128()).isEqualTo(BigInteger.ONE.shiftLeft(64).add(BigInteger.valueOf(100)));
        LayoutHandle max = new LayoutHandle(-1L, 65535);
        assertThat(max.toU128().bitLength()).isEqualTo(80);
        assertThat(LayoutHandle.fromU128(max.toU128())).isEqualTo(max);
        assertThatThrownBy(() -> LayoutHandle.fromU128(BigInteger.ONE.shiftLeft(80)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bits above 79");
        assertThatThrownBy(() -> new LayoutHandle(0, 65536))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be 0..65535");
    }

    @Test
    void malformedBytesFailWithTheFieldAndOffset() {
        byte[] truncated = java.util.Arrays.copyOf(Fixtures.DYNAMO_BYTES, 40);
        assertThatThrownBy(() -> SerializedLayout.fromBytes(truncated).unpack())
                .isInstanceOf(InvalidMetadataException.class).hasMessageContaining("failed to decode");

        byte[] trailing = java.util.Arrays.copyOf(Fixtures.DYNAMO_BYTES, 63);
        assertThatThrownBy(() -> SerializedLayout.fromBytes(trailing).unpack())
                .isInstanceOf(InvalidMetadataException.class).hasMessageContaining("trailing");

        byte[] badShape = Fixtures.DYNAMO_BYTES.clone();
        badShape[44] = 3; // inner_shape: only 0..2 exist
        assertThatThrownBy(() -> SerializedLayout.fromBytes(badShape).unpack())
                .isInstanceOf(InvalidMetadataException.class).hasMessageContaining("InnerShape");

        byte[] zeroBlocks = Fixtures.DYNAMO_BYTES.clone();
        zeroBlocks[37] = 0; // num_blocks = 0
        assertThatThrownBy(() -> SerializedLayout.fromBytes(zeroBlocks).unpack())
                .isInstanceOf(InvalidMetadataException.class).hasMessageContaining("numBlocks");

        byte[] hugeLength = HexFormat.of().parseHex("64fdffffffffffffff7f");
        assertThatThrownBy(() -> SerializedLayout.fromBytes(hugeLength).unpack())
                .isInstanceOf(InvalidMetadataException.class);
    }

    @Test
    void wideUsizeIsRejectedNotTruncated() {
        LayoutConfig config = Fixtures.DYNAMO_DESCRIPTOR.layoutConfig();
        byte[] bytes = SerializedLayout.pack(new WorkerAddress(1, "a"), new byte[0], List.of(new LocalLayoutDescriptor(
                new LayoutHandle(1, 0), new LayoutDescriptor(1, config, StorageKind.SYSTEM,
                new NixlMetadata("a", MemType.DRAM, 0), List.of(), new LayoutTypeDetails.FullyContiguous(
                dev.kvbm.layout.BlockFormat.OPERATIONAL))))).toBytes();
        // num_blocks (2) follows worker id, name, metadata, count, handle (1 byte: 1 < 251) and version.
        int at = 1 + 2 + 1 + 1 + 1 + 1;
        assertThat(bytes[at]).isEqualTo((byte) 2);
        byte[] wide = new byte[bytes.length + 8];
        System.arraycopy(bytes, 0, wide, 0, at);
        wide[at] = (byte) 0xFD; // u64 marker: 2^32 blocks
        byte[] value = {0, 0, 0, 0, 1, 0, 0, 0};
        System.arraycopy(value, 0, wide, at + 1, 8);
        System.arraycopy(bytes, at + 1, wide, at + 9, bytes.length - at - 1);
        assertThatThrownBy(() -> SerializedLayout.fromBytes(wide).unpack())
                .isInstanceOf(InvalidMetadataException.class)
                .hasMessageContaining("num_blocks").hasMessageContaining("4294967296");
    }
}
