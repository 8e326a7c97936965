package dev.kvbm.transport;

import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.layout.BlockFormat;
import dev.kvbm.layout.LayoutDescriptor;
import dev.kvbm.layout.LayoutTypeDetails;
import dev.kvbm.layout.NixlMetadata;

import java.util.HexFormat;
import java.util.List;

/** Dynamo's {@code test_metadata_pack_unpack} values and the bytes Dynamo encodes them to (Dynamo's own fixture). */
final class Fixtures {
    static final byte[] DYNAMO_BYTES = HexFormat.of().parseHex(
            "640a776f726b65725f31303005010203040501fe64000000000000000100000000000000010202020408010200000474657374"
                    + "000001fb0010fb00100000");

    static final LayoutDescriptor DYNAMO_DESCRIPTOR = new LayoutDescriptor(1,
            LayoutConfig.builder().numBlocks(2).numLayers(2).outerDim(2).pageSize(4).innerDim(8).dtypeWidthBytes(2)
                    .build(),
            StorageKind.SYSTEM, new NixlMetadata("test", MemType.DRAM, 0), List.of(new MemoryRegion(0x1000, 4096)),
            new LayoutTypeDetails.FullyContiguous(BlockFormat.OPERATIONAL));

    static final RdmaLayoutDescriptors DYNAMO_VALUE = new RdmaLayoutDescriptors(
            new WorkerAddress(100, "worker_100"), new byte[] {1, 2, 3, 4, 5},
            List.of(new LocalLayoutDescriptor(new LayoutHandle(100, 1), DYNAMO_DESCRIPTOR)));

    private Fixtures() {
    }
}
