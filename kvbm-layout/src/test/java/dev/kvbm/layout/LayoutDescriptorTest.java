package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.InnerShape;
import dev.kvbm.api.InvalidMetadataException;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LayoutDescriptorTest {
    private static final LayoutConfig CONFIG = LayoutConfig.builder().numBlocks(2).numLayers(2).outerDim(2)
            .pageSize(4).innerDim(8).dtypeWidthBytes(2).build(); // Dynamo's fixture config: 512 bytes in all
    private static final NixlMetadata DRAM = new NixlMetadata("test", MemType.DRAM, 0);
    private static final LayoutTypeDetails FC = new LayoutTypeDetails.FullyContiguous(BlockFormat.OPERATIONAL);

    @Test
    void fullyContiguousRebuildsToTheSameAddresses() {
        FullyContiguousLayout original = Layouts.fullyContiguous(CONFIG, new MemoryRegion(0x1000, 4096));
        LayoutDescriptor d = new PhysicalLayout(original, StorageKind.SYSTEM, DRAM).toDescriptor();
        assertThat(d).isEqualTo(new LayoutDescriptor(1, CONFIG, StorageKind.SYSTEM, DRAM,
                List.of(new MemoryRegion(0x1000, 4096)), FC));
        PhysicalLayout rebuilt = Layouts.fromDescriptor(d);
        assertThat(rebuilt.location()).isEqualTo(StorageKind.SYSTEM);
        assertThat(rebuilt.nixlMetadata()).isEqualTo(DRAM);
        assertSameAddresses(original, rebuilt);
    }

    @Test
    void layerSeparateKeepsItsBlockDimension() {
        List<MemoryRegion> layers = List.of(new MemoryRegion(0x10000, 2048), new MemoryRegion(0x20000, 2048));
        LayerSeparateLayout original = Layouts.layerSeparate(CONFIG, BlockDimension.BLOCK_IS_SECOND_DIM, layers);
        LayoutDescriptor d = LayoutDescriptor.of(original, StorageKind.device(3), new NixlMetadata("g", MemType.VRAM, 3));
        assertThat(d.layoutTypeDetails()).isEqualTo(new LayoutTypeDetails.LayerSeparate(BlockDimension.BLOCK_IS_SECOND_DIM));
        PhysicalLayout rebuilt = Layouts.fromDescriptor(d);
        assertThat(rebuilt.layout()).isInstanceOf(LayerSeparateLayout.class);
        assertThat(((LayerSeparateLayout) rebuilt.layout()).blockDimension()).isEqualTo(BlockDimension.BLOCK_IS_SECOND_DIM);
        assertSameAddresses(original, rebuilt);
    }

    @Test
    void inconsistentDescriptorsAreRejectedWithWhatWouldFit() {
        MemoryRegion whole = new MemoryRegion(0x1000, 4096);
        assertRejected(new LayoutDescriptor(2, CONFIG, StorageKind.SYSTEM, DRAM, List.of(whole), FC),
                "unsupported layout descriptor version 2");
        assertRejected(new LayoutDescriptor(-1, CONFIG, StorageKind.SYSTEM, DRAM, List.of(whole), FC),
                "unsupported layout descriptor version 4294967295");
        assertRejected(new LayoutDescriptor(1, CONFIG, StorageKind.SYSTEM, DRAM, List.of(whole, whole), FC),
                "layout has 2 regions, FullyContiguous needs 1");
        assertRejected(new LayoutDescriptor(1, CONFIG, StorageKind.SYSTEM, DRAM, List.of(new MemoryRegion(0x1000, 511)), FC),
                "has 511 bytes but a FullyContiguous layout of 2 blocks x 256 bytes needs 512");
        assertRejected(new LayoutDescriptor(1, CONFIG, StorageKind.SYSTEM, DRAM, List.of(whole),
                new LayoutTypeDetails.LayerSeparate(BlockDimension.BLOCK_IS_FIRST_DIM)),
                "layout has 1 regions, LayerSeparate needs 2 (one per layer)");
        assertRejected(new LayoutDescriptor(1, CONFIG, StorageKind.SYSTEM, new NixlMetadata("t", MemType.VRAM, 0),
                List.of(whole), FC), "registered as VRAM");
        assertRejected(new LayoutDescriptor(1, CONFIG, StorageKind.device(1), new NixlMetadata("t", MemType.VRAM, 2),
                List.of(whole), FC), "registered on device 2; it must be registered on device 1");
        assertRejected(new LayoutDescriptor(1, CONFIG, StorageKind.SYSTEM, new NixlMetadata("", MemType.DRAM, 0),
                List.of(whole), FC), "agent_name is empty");
    }

    @Test
    void layerSeparateLayersThatShareBytesAreRejected() {
        // Each layer uses 2 blocks x 2 outer x 64 bytes = 256 bytes; the second layer starts inside the first.
        LayoutTypeDetails ls = new LayoutTypeDetails.LayerSeparate(BlockDimension.BLOCK_IS_FIRST_DIM);
        assertRejected(new LayoutDescriptor(1, CONFIG, StorageKind.SYSTEM, DRAM,
                List.of(new MemoryRegion(0x1000, 4096), new MemoryRegion(0x10FF, 256)), ls),
                "layer 0 [0x1000, +256) and layer 1 [0x10ff, +256) overlap");
        assertRejected(new LayoutDescriptor(1, CONFIG, StorageKind.SYSTEM, DRAM,
                List.of(new MemoryRegion(0x1000, 256), new MemoryRegion(0x1000, 256)), ls), "overlap");
        // Adjacent layers share no byte.
        assertThat(Layouts.fromDescriptor(new LayoutDescriptor(1, CONFIG, StorageKind.SYSTEM, DRAM,
                List.of(new MemoryRegion(0x1100, 256), new MemoryRegion(0x1000, 256)), ls)).layout().regions())
                .hasSize(2);
    }

    @Test
    void jsonIsAsStrictAsSerdeDuplicateKeysAndTrailingContentAreRejected() {
        String good = LayoutDescriptorJson.toJson(new LayoutDescriptor(1, CONFIG, StorageKind.device(0),
                new NixlMetadata("test", MemType.VRAM, 0), List.of(new MemoryRegion(0x1000, 4096)), FC));
        assertThat(LayoutDescriptorJson.fromJson(good).location()).isEqualTo(StorageKind.device(0));
        assertJsonRejected(good.replace("\"Device\" : 0", "\"Device\" : 0, \"Device\" : 1"), "Duplicate field 'Device'");
        assertJsonRejected(good.replace("\"version\" : 1,", "\"version\" : 1, \"version\" : 1,"),
                "Duplicate field 'version'");
        assertJsonRejected(good + " {}", "not valid JSON");
        assertJsonRejected(good + "x", "not valid JSON");
    }

    @Test
    void jsonUsesDynamosSerdeNames() {
        LayoutDescriptor d = new LayoutDescriptor(1, CONFIG.toBuilder().innerShape(InnerShape.NHD).build(),
                StorageKind.device(0), new NixlMetadata("worker-0", MemType.VRAM, 0),
                List.of(new MemoryRegion(-4096L * 2, 4096)),
                new LayoutTypeDetails.LayerSeparate(BlockDimension.BLOCK_IS_FIRST_DIM));
        String json = LayoutDescriptorJson.toJson(d);
        assertThat(json.replaceAll("\\s", "")).isEqualTo("{\"version\":1,\"layout_config\":{\"num_blocks\":2,"
                + "\"num_layers\":2,\"outer_dim\":2,\"page_size\":4,\"inner_dim\":8,\"alignment\":1,"
                + "\"dtype_width_bytes\":2,\"inner_shape\":\"NHD\"},\"location\":{\"Device\":0},"
                + "\"nixl_metadata\":{\"agent_name\":\"worker-0\",\"mem_type\":\"Vram\",\"device_id\":0},"
                + "\"memory_descriptors\":[{\"addr\":18446744073709543424,\"size\":4096}],"
                + "\"layout_type_details\":{\"LayerSeparate\":{\"block_dim\":\"BlockIsFirstDim\"}}}");
        assertThat(LayoutDescriptorJson.fromJson(json)).isEqualTo(d);

        LayoutDescriptor fixture = new LayoutDescriptor(1, CONFIG, StorageKind.SYSTEM, DRAM,
                List.of(new MemoryRegion(0x1000, 4096)), FC);
        String fixtureJson = LayoutDescriptorJson.toJson(fixture);
        assertThat(fixtureJson).contains("\"location\" : \"System\"", "\"mem_type\" : \"Dram\"",
                "\"FullyContiguous\" : {", "\"block_format\" : \"Operational\"", "\"inner_shape\" : \"Unknown\"");
        assertThat(LayoutDescriptorJson.fromJson(fixtureJson)).isEqualTo(fixture);
        LayoutDescriptor disk = new LayoutDescriptor(1, CONFIG, StorageKind.disk(-1L), new NixlMetadata("d", MemType.FILE, 9),
                List.of(), FC);
        assertThat(LayoutDescriptorJson.toJson(disk)).contains("\"Disk\" : 18446744073709551615");
        assertThat(LayoutDescriptorJson.fromJson(LayoutDescriptorJson.toJson(disk))).isEqualTo(disk);
    }

    @Test
    void malformedJsonNamesTheField() {
        String good = LayoutDescriptorJson.toJson(new LayoutDescriptor(1, CONFIG, StorageKind.SYSTEM, DRAM,
                List.of(new MemoryRegion(0x1000, 4096)), FC));
        assertJsonRejected("{", "not valid JSON");
        assertJsonRejected("", "empty");
        assertJsonRejected("[]", "lacks version");
        assertJsonRejected(good.replace("\"num_blocks\" : 2", "\"num_blocks\" : -2"), "layout_config.num_blocks = -2");
        assertJsonRejected(good.replace("\"num_blocks\" : 2", "\"num_blocks\" : 0"), "numBlocks");
        assertJsonRejected(good.replace("\"num_blocks\" : 2", "\"num_blocks\" : 3000000000"), "out of range");
        assertJsonRejected(good.replace("\"System\"", "\"Sistem\""), "location = \"Sistem\" is not one of");
        assertJsonRejected(good.replace("\"Dram\"", "\"DRAM\""), "nixl_metadata.mem_type");
        assertJsonRejected(good.replace("\"Operational\"", "1"), "block_format");
        assertJsonRejected(good.replace("\"size\" : 4096", "\"size\" : 18446744073709551616"), "memory_descriptors[0].size");
        assertJsonRejected(good.replace("\"size\" : 4096", "\"size\" : 1.5"), "unsigned integer");
        assertJsonRejected(good.replace("\"agent_name\" : \"test\"", "\"agent_name\" : 5"), "must be a string");
        // Nesting a peer could use to exhaust the parser's stack is refused by depth, not by StackOverflowError.
        assertJsonRejected("[".repeat(100_000), "nesting depth");
        assertThatThrownBy(() -> LayoutDescriptorJson.fromJson(null)).isInstanceOf(NullPointerException.class)
                .hasMessage("json");
    }

    private static void assertJsonRejected(String json, String message) {
        assertThatThrownBy(() -> LayoutDescriptorJson.fromJson(json)).isInstanceOf(InvalidMetadataException.class)
                .hasMessageContaining(message);
    }

    private static void assertRejected(LayoutDescriptor d, String message) {
        assertThatThrownBy(() -> Layouts.fromDescriptor(d)).isInstanceOf(InvalidMetadataException.class)
                .hasMessageContaining(message);
    }

    private static void assertSameAddresses(dev.kvbm.api.Layout original, PhysicalLayout rebuilt) {
        LayoutConfig c = original.config();
        for (int b = 0; b < c.numBlocks(); b++) {
            for (int l = 0; l < c.numLayers(); l++) {
                for (int o = 0; o < c.outerDim(); o++) {
                    assertThat(rebuilt.layout().memoryRegion(b, l, o)).isEqualTo(original.memoryRegion(b, l, o));
                }
            }
        }
    }
}
