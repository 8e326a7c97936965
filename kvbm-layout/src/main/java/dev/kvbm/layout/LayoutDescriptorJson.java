package dev.kvbm.layout;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.InnerShape;
import dev.kvbm.api.InvalidMetadataException;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * The JSON form of a {@link LayoutDescriptor}, as Dynamo's serde derives it: snake_case field names, unit enum
 * variants as strings ({@code "System"}, {@code "Dram"}), variants with data as one-key objects
 * ({@code {"Device":0}}, {@code {"FullyContiguous":{"block_format":"Operational"}}}), unsigned 64-bit numbers
 * as plain JSON integers. For people and for debugging; workers exchange the bincode form.
 *
 * <p>{@link #fromJson} treats its input as untrusted: anything that is not a descriptor in this form fails with an
 * {@link InvalidMetadataException} that names the field. It checks the form only; {@link Layouts#fromDescriptor}
 * checks that the values are consistent. Stateless and thread-safe.
 */
public final class LayoutDescriptorJson {

    /**
     * As strict as serde_json on the Rust side, so that two readers never see different descriptors in the same
     * bytes: a key given twice in one object is an error (not "last wins"), and so is anything after the
     * descriptor.
     */
    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final BigInteger U64_MAX = BigInteger.ONE.shiftLeft(64).subtract(BigInteger.ONE);

    private static final Map<InnerShape, String> INNER_SHAPES =
            Map.of(InnerShape.UNKNOWN, "Unknown", InnerShape.NHD, "NHD", InnerShape.HND, "HND");
    private static final Map<MemType, String> MEM_TYPES = Map.of(MemType.DRAM, "Dram", MemType.VRAM, "Vram",
            MemType.BLOCK, "Block", MemType.OBJECT, "Object", MemType.FILE, "File", MemType.UNKNOWN, "Unknown");
    private static final Map<BlockDimension, String> BLOCK_DIMENSIONS = Map.of(
            BlockDimension.BLOCK_IS_FIRST_DIM, "BlockIsFirstDim", BlockDimension.BLOCK_IS_SECOND_DIM, "BlockIsSecondDim");
    private static final Map<BlockFormat, String> BLOCK_FORMATS = Map.of(BlockFormat.OPERATIONAL, "Operational");

    private LayoutDescriptorJson() {
    }

    /**
     * Writes the JSON form.
     *
     * @param descriptor the descriptor written
     * @return pretty-printed JSON of {@code descriptor}
     */
    public static String toJson(LayoutDescriptor descriptor) {
        ObjectNode root = NODES.objectNode();
        root.put("version", Integer.toUnsignedLong(descriptor.version()));
        LayoutConfig c = descriptor.layoutConfig();
        ObjectNode config = root.putObject("layout_config");
        config.put("num_blocks", c.numBlocks());
        config.put("num_layers", c.numLayers());
        config.put("outer_dim", c.outerDim());
        config.put("page_size", c.pageSize());
        config.put("inner_dim", c.innerDim());
        config.put("alignment", c.alignment());
        config.put("dtype_width_bytes", c.dtypeWidthBytes());
        config.put("inner_shape", INNER_SHAPES.get(c.innerShape()));
        root.set("location", storageKind(descriptor.location()));
        ObjectNode nixl = root.putObject("nixl_metadata");
        nixl.put("agent_name", descriptor.nixlMetadata().agentName());
        nixl.put("mem_type", MEM_TYPES.get(descriptor.nixlMetadata().memType()));
        nixl.set("device_id", unsigned(descriptor.nixlMetadata().deviceId()));
        ArrayNode regions = root.putArray("memory_descriptors");
        for (MemoryRegion r : descriptor.memoryDescriptors()) {
            ObjectNode region = regions.addObject();
            region.set("addr", unsigned(r.address()));
            region.set("size", unsigned(r.size()));
        }
        ObjectNode details = root.putObject("layout_type_details");
        switch (descriptor.layoutTypeDetails()) {
            case LayoutTypeDetails.FullyContiguous fc ->
                    details.putObject("FullyContiguous").put("block_format", BLOCK_FORMATS.get(fc.blockFormat()));
            case LayoutTypeDetails.LayerSeparate ls ->
                    details.putObject("LayerSeparate").put("block_dim", BLOCK_DIMENSIONS.get(ls.blockDim()));
        }
        try {
            return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("a JSON tree of plain values failed to print", e);
        }
    }

    /**
     * Parses the JSON form.
     *
     * @param json one descriptor, nothing after it; keys appear once
     * @return the descriptor
     * @throws InvalidMetadataException when {@code json} is not a descriptor in this form
     */
    public static LayoutDescriptor fromJson(String json) {
        Objects.requireNonNull(json, "json");
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw new InvalidMetadataException("layout descriptor is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || root.isMissingNode()) {
            throw new InvalidMetadataException("layout descriptor JSON is empty");
        }
        long version = u64(field(root, "version", ""), "version", 0xFFFF_FFFFL);
        JsonNode c = field(root, "layout_config", "");
        LayoutConfig config;
        try {
            config = new LayoutConfig(usize(c, "num_blocks"), usize(c, "num_layers"), usize(c, "outer_dim"),
                    usize(c, "page_size"), usize(c, "inner_dim"), usize(c, "alignment"),
                    usize(c, "dtype_width_bytes"),
                    variant(field(c, "inner_shape", "layout_config."), "layout_config.inner_shape", INNER_SHAPES));
        } catch (IllegalArgumentException e) {
            throw new InvalidMetadataException("layout_config is invalid: " + e.getMessage(), e);
        }
        StorageKind location = storageKind(field(root, "location", ""));
        JsonNode n = field(root, "nixl_metadata", "");
        JsonNode agentName = field(n, "agent_name", "nixl_metadata.");
        if (!agentName.isTextual()) {
            throw new InvalidMetadataException("nixl_metadata.agent_name must be a string, got " + agentName);
        }
        NixlMetadata nixl = new NixlMetadata(agentName.textValue(),
                variant(field(n, "mem_type", "nixl_metadata."), "nixl_metadata.mem_type", MEM_TYPES),
                u64(field(n, "device_id", "nixl_metadata."), "nixl_metadata.device_id", -1));
        JsonNode list = field(root, "memory_descriptors", "");
        if (!list.isArray()) {
            throw new InvalidMetadataException("memory_descriptors must be an array, got " + list.getNodeType());
        }
        List<MemoryRegion> regions = new ArrayList<>(list.size());
        for (int i = 0; i < list.size(); i++) {
            String at = "memory_descriptors[" + i + "].";
            JsonNode r = list.get(i);
            long addr = u64(field(r, "addr", at), at + "addr", -1);
            long size = u64(field(r, "size", at), at + "size", -1);
            try {
                regions.add(new MemoryRegion(addr, size));
            } catch (IllegalArgumentException e) {
                throw new InvalidMetadataException(at.substring(0, at.length() - 1) + " is invalid: " + e.getMessage(), e);
            }
        }
        return new LayoutDescriptor((int) version, config, location, nixl, regions,
                typeDetails(field(root, "layout_type_details", "")));
    }

    private static JsonNode storageKind(StorageKind kind) {
        return switch (kind.type()) {
            case SYSTEM -> NODES.textNode("System");
            case PINNED -> NODES.textNode("Pinned");
            case DEVICE -> NODES.objectNode().put("Device", kind.id());
            case DISK -> NODES.objectNode().set("Disk", unsigned(kind.id()));
        };
    }

    private static StorageKind storageKind(JsonNode node) {
        if (node.isTextual()) {
            return switch (node.textValue()) {
                case "System" -> StorageKind.SYSTEM;
                case "Pinned" -> StorageKind.PINNED;
                default -> throw unknown("location", node, "\"System\", \"Pinned\", {\"Device\":id}, {\"Disk\":fd}");
            };
        }
        Map.Entry<String, JsonNode> only = onlyEntry(node, "location");
        return switch (only.getKey()) {
            case "Device" -> new StorageKind(StorageKind.Type.DEVICE, u64(only.getValue(), "location.Device", 0xFFFF_FFFFL));
            case "Disk" -> StorageKind.disk(u64(only.getValue(), "location.Disk", -1));
            default -> throw unknown("location", node, "\"System\", \"Pinned\", {\"Device\":id}, {\"Disk\":fd}");
        };
    }

    private static LayoutTypeDetails typeDetails(JsonNode node) {
        Map.Entry<String, JsonNode> only = onlyEntry(node, "layout_type_details");
        String at = "layout_type_details." + only.getKey();
        return switch (only.getKey()) {
            case "FullyContiguous" -> new LayoutTypeDetails.FullyContiguous(
                    variant(field(only.getValue(), "block_format", at + "."), at + ".block_format", BLOCK_FORMATS));
            case "LayerSeparate" -> new LayoutTypeDetails.LayerSeparate(
                    variant(field(only.getValue(), "block_dim", at + "."), at + ".block_dim", BLOCK_DIMENSIONS));
            default -> throw unknown("layout_type_details", node,
                    "{\"FullyContiguous\":{...}} or {\"LayerSeparate\":{...}}");
        };
    }

    private static Map.Entry<String, JsonNode> onlyEntry(JsonNode node, String name) {
        if (!node.isObject() || node.size() != 1) {
            throw new InvalidMetadataException(String.format(Locale.ROOT,
                    "%s must be a string or an object with exactly one key (the variant), got %s", name, node));
        }
        Iterator<Map.Entry<String, JsonNode>> fields = node.properties().iterator();
        return fields.next();
    }

    private static <E> E variant(JsonNode node, String name, Map<E, String> names) {
        if (node.isTextual()) {
            for (Map.Entry<E, String> e : names.entrySet()) {
                if (e.getValue().equals(node.textValue())) {
                    return e.getKey();
                }
            }
        }
        throw unknown(name, node, String.join(", ", names.values().stream().sorted().map(v -> '"' + v + '"').toList()));
    }

    private static InvalidMetadataException unknown(String name, JsonNode node, String allowed) {
        return new InvalidMetadataException(String.format(Locale.ROOT, "%s = %s is not one of %s", name, node, allowed));
    }

    private static JsonNode field(JsonNode parent, String name, String path) {
        JsonNode node = parent.isObject() ? parent.get(name) : null;
        if (node == null || node.isNull()) {
            throw new InvalidMetadataException("layout descriptor JSON lacks " + path + name);
        }
        return node;
    }

    private static int usize(JsonNode parent, String name) {
        long value = u64(field(parent, name, "layout_config."), "layout_config." + name, Integer.MAX_VALUE);
        return (int) value;
    }

    /** An unsigned integer no larger than {@code max} (unsigned; -1 means the whole u64 range), as a long. */
    private static long u64(JsonNode node, String name, long max) {
        if (!node.isIntegralNumber()) {
            throw new InvalidMetadataException(String.format(Locale.ROOT,
                    "%s must be an unsigned integer, got %s", name, node));
        }
        BigInteger value = node.bigIntegerValue();
        BigInteger limit = max == -1 ? U64_MAX : BigInteger.valueOf(max);
        if (value.signum() < 0 || value.compareTo(limit) > 0) {
            throw new InvalidMetadataException(String.format(Locale.ROOT,
                    "%s = %s out of range: must be 0..%s", name, value, limit));
        }
        return value.longValue();
    }

    private static JsonNode unsigned(long value) {
        return value >= 0 ? NODES.numberNode(value) : NODES.numberNode(new BigInteger(Long.toUnsignedString(value)));
    }
}
