package dev.kvbm.transport;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.InnerShape;
import dev.kvbm.api.InvalidMetadataException;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.bincode.BincodeException;
import dev.kvbm.bincode.BincodeReader;
import dev.kvbm.bincode.BincodeWriter;
import dev.kvbm.layout.BlockFormat;
import dev.kvbm.layout.LayoutDescriptor;
import dev.kvbm.layout.LayoutTypeDetails;
import dev.kvbm.layout.NixlMetadata;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Dynamo's bincode encoding of {@link RdmaLayoutDescriptors}: fields in declaration order, enums as their variant
 * index, {@code usize} as a varint u64 (bincode 2's standard configuration, as Dynamo uses it). Decoding treats the bytes as untrusted
 * and turns every failure into an {@link InvalidMetadataException} that names the field and the byte offset.
 */
final class WireFormat {

    private WireFormat() {
    }

    static byte[] encode(RdmaLayoutDescriptors value) {
        BincodeWriter out = new BincodeWriter(256);
        out.writeU64(value.workerAddress().workerId());
        out.writeString(value.workerAddress().nixlAgentName());
        out.writeBytes(value.nixlMetadata());
        out.writeLength(value.layouts().size());
        for (LocalLayoutDescriptor layout : value.layouts()) {
            out.writeU128(layout.handle().toU128());
            encode(out, layout.layout());
        }
        return out.toByteArray();
    }

    private static void encode(BincodeWriter out, LayoutDescriptor d) {
        out.writeU32(Integer.toUnsignedLong(d.version()));
        LayoutConfig c = d.layoutConfig();
        out.writeU64(c.numBlocks()).writeU64(c.numLayers()).writeU64(c.outerDim()).writeU64(c.pageSize())
                .writeU64(c.innerDim()).writeU64(c.alignment()).writeU64(c.dtypeWidthBytes())
                .writeVariant(c.innerShape().ordinal());
        StorageKind location = d.location();
        out.writeVariant(location.type().wireIndex());
        switch (location.type()) {
            case DEVICE -> out.writeU32(location.id());
            case DISK -> out.writeU64(location.id());
            case SYSTEM, PINNED -> {
            }
        }
        NixlMetadata nixl = d.nixlMetadata();
        out.writeString(nixl.agentName()).writeVariant(nixl.memType().ordinal()).writeU64(nixl.deviceId());
        out.writeLength(d.memoryDescriptors().size());
        for (MemoryRegion r : d.memoryDescriptors()) {
            out.writeU64(r.address()).writeU64(r.size());
        }
        switch (d.layoutTypeDetails()) {
            case LayoutTypeDetails.FullyContiguous fc -> out.writeVariant(0).writeVariant(fc.blockFormat().ordinal());
            case LayoutTypeDetails.LayerSeparate ls -> out.writeVariant(1).writeVariant(ls.blockDim().ordinal());
        }
    }

    /** One layout descriptor alone, in the same encoding it has inside {@link RdmaLayoutDescriptors}. */
    static byte[] encodeDescriptor(LayoutDescriptor descriptor) {
        BincodeWriter out = new BincodeWriter(128);
        encode(out, descriptor);
        return out.toByteArray();
    }

    /** Decodes one layout descriptor that must span all of {@code bytes}. */
    static LayoutDescriptor decodeDescriptor(byte[] bytes) {
        BincodeReader in = new BincodeReader(bytes, true);
        try {
            LayoutDescriptor d = decodeDescriptor(in, "");
            in.finish();
            return d;
        } catch (BincodeException e) {
            throw new InvalidMetadataException("failed to decode a layout descriptor: " + e.getMessage(), e);
        }
    }

    /** Decodes one value that must span all of {@code bytes}. */
    static RdmaLayoutDescriptors decode(byte[] bytes) {
        BincodeReader in = new BincodeReader(bytes, true);
        try {
            WorkerAddress address = new WorkerAddress(in.readU64(), in.readString());
            byte[] agentMetadata = in.readBytes();
            int count = in.readLength();
            List<LocalLayoutDescriptor> layouts = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                int at = in.position();
                LayoutHandle handle;
                try {
                    handle = LayoutHandle.fromU128(in.readU128());
                } catch (IllegalArgumentException e) {
                    throw new InvalidMetadataException(String.format(Locale.ROOT,
                            "layouts[%d].handle at byte %d: %s", i, at, e.getMessage()), e);
                }
                layouts.add(new LocalLayoutDescriptor(handle, decodeDescriptor(in, "layouts[" + i + "].layout.")));
            }
            in.finish();
            return new RdmaLayoutDescriptors(address, agentMetadata, layouts);
        } catch (BincodeException e) {
            throw new InvalidMetadataException("failed to decode layout metadata: " + e.getMessage(), e);
        }
    }

    private static LayoutDescriptor decodeDescriptor(BincodeReader in, String path) {
        int version = (int) in.readU32();
        int at = in.position();
        LayoutConfig config;
        int numBlocks = usize(in, path + "layout_config.num_blocks");
        int numLayers = usize(in, path + "layout_config.num_layers");
        int outerDim = usize(in, path + "layout_config.outer_dim");
        int pageSize = usize(in, path + "layout_config.page_size");
        int innerDim = usize(in, path + "layout_config.inner_dim");
        int alignment = usize(in, path + "layout_config.alignment");
        int dtypeWidth = usize(in, path + "layout_config.dtype_width_bytes");
        InnerShape shape = InnerShape.values()[in.readVariant(InnerShape.values().length, "InnerShape")];
        try {
            config = new LayoutConfig(numBlocks, numLayers, outerDim, pageSize, innerDim, alignment, dtypeWidth, shape);
        } catch (IllegalArgumentException e) {
            throw new InvalidMetadataException(String.format(Locale.ROOT,
                    "%slayout_config at byte %d is invalid: %s", path, at, e.getMessage()), e);
        }
        StorageKind location = switch (StorageKind.Type.values()[in.readVariant(4, "StorageKind")]) {
            case SYSTEM -> StorageKind.SYSTEM;
            case PINNED -> StorageKind.PINNED;
            case DEVICE -> new StorageKind(StorageKind.Type.DEVICE, in.readU32());
            case DISK -> StorageKind.disk(in.readU64());
        };
        NixlMetadata nixl = new NixlMetadata(in.readString(),
                MemType.values()[in.readVariant(MemType.values().length, "MemType")], in.readU64());
        int count = in.readLength();
        List<MemoryRegion> regions = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int regionAt = in.position();
            long address = in.readU64();
            long size = in.readU64();
            try {
                regions.add(new MemoryRegion(address, size));
            } catch (IllegalArgumentException e) {
                throw new InvalidMetadataException(String.format(Locale.ROOT,
                        "%smemory_descriptors[%d] at byte %d is invalid: %s", path, i, regionAt, e.getMessage()), e);
            }
        }
        LayoutTypeDetails details = switch (in.readVariant(2, "LayoutTypeDetails")) {
            case 0 -> new LayoutTypeDetails.FullyContiguous(
                    BlockFormat.values()[in.readVariant(BlockFormat.values().length, "BlockFormat")]);
            default -> new LayoutTypeDetails.LayerSeparate(
                    BlockDimension.values()[in.readVariant(BlockDimension.values().length, "BlockDimension")]);
        };
        return new LayoutDescriptor(version, config, location, nixl, regions, details);
    }

    private static int usize(BincodeReader in, String field) {
        int at = in.position();
        long value = in.readU64();
        if (value < 0 || value > Integer.MAX_VALUE) {
            throw new InvalidMetadataException(String.format(Locale.ROOT,
                    "%s at byte %d = %s exceeds the largest supported value %d", field, at,
                    Long.toUnsignedString(value), Integer.MAX_VALUE));
        }
        return (int) value;
    }
}
