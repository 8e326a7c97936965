package dev.kvbm.manager;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.StorageKind;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads a manager's settings from JSON or YAML into a {@link KvBlockManager.Builder}. Strict: an unknown key, a
 * value of the wrong type or out of range is an error naming the file, the key's path and what is allowed.
 *
 * <pre>
 * worker_id: 7                  # optional, unsigned 64-bit
 * agent: local                  # optional: local, ucx, ... or none
 * agent_options: {peer_timeout_ms: 30000, ucx.TLS: tcp, ucx.NET_DEVICES: eth1}   # optional: the agent's settings
 * duplicates: refuse            # optional: refuse or allow
 * model: {num_layers: 32, outer_dim: 2, page_size: 16, inner_dim: 1024, dtype_width_bytes: 2}
 * tiers:
 *   g1: {blocks: 1024, layout: layer_separate, block_dimension: block_is_first_dim}
 *   g2: {bytes: 8GiB}           # storage: pinned | system | device:N; provider: system-memory | ucx-host | ...
 *   g3: {bytes: 64GiB, directory: /mnt/nvme/kvbm}
 * offload: {max_in_flight: 4, batch_size: 16}
 * events: {sink: nats, servers: "nats://10.0.0.5:4222", namespace: prod}   # optional; or {sink: in-process}
 *                               # heartbeat_ms: 1000 (default; 0: none), the silence before an empty event
 * </pre>
 */
final class ManagerConfig {
    /** The largest configuration file read. */
    static final int MAX_FILE_BYTES = 1 << 20;
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([KMGT]i?B|B)?", Pattern.CASE_INSENSITIVE);

    private ManagerConfig() {
    }

    static void read(Path file, KvBlockManager.Builder into) throws IOException {
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        ObjectMapper mapper;
        if (name.endsWith(".yaml") || name.endsWith(".yml")) {
            mapper = new YAMLMapper();
        } else if (name.endsWith(".json")) {
            mapper = new ObjectMapper();
        } else {
            throw new IllegalArgumentException("configuration " + file + ": unknown format; name it .json, .yaml or"
                    + " .yml");
        }
        mapper.enable(com.fasterxml.jackson.core.JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
                .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
        JsonNode root;
        try (InputStream in = Files.newInputStream(file)) {
            byte[] text = in.readNBytes(MAX_FILE_BYTES + 1); // bounded: a path to a device or a huge file is refused
            if (text.length > MAX_FILE_BYTES) {
                throw new IllegalArgumentException("configuration " + file + " is larger than " + MAX_FILE_BYTES
                        + " bytes; a configuration is a few hundred bytes: is this the right file?");
            }
            root = mapper.readTree(text);
            if (root == null || root.isMissingNode()) {
                throw new IllegalArgumentException("configuration " + file + " is empty; it needs at least model and"
                        + " tiers");
            }
        } catch (JacksonException e) {
            throw new IllegalArgumentException("configuration " + file + " is not valid "
                    + (mapper instanceof YAMLMapper ? "YAML" : "JSON") + ": " + e.getOriginalMessage(), e);
        }
        new Reader(file).apply(root, into);
    }

    private record Reader(Path file) {

        void apply(JsonNode root, KvBlockManager.Builder b) {
            object(root, "", Set.of("worker_id", "agent", "agent_options", "duplicates", "model", "tiers",
                    "offload", "events"));
            if (root.has("worker_id")) {
                b.workerId(unsignedLong(root.get("worker_id"), "worker_id"));
            }
            if (root.has("agent")) {
                String agent = text(root.get("agent"), "agent");
                if (agent.equals("none")) {
                    b.withoutAgent();
                } else {
                    b.agent(agent);
                }
            }
            if (root.has("agent_options")) {
                b.agentOptions(agentOptions(root.get("agent_options")));
            }
            if (root.has("duplicates")) {
                b.duplicates(choice(root.get("duplicates"), "duplicates", BlockPool.Duplicates.class));
            }
            JsonNode model = required(root, "model", "");
            object(model, "model", Set.of("num_layers", "outer_dim", "page_size", "inner_dim", "dtype_width_bytes"));
            try {
                b.model(new ModelShape(integer(required(model, "num_layers", "model"), "model.num_layers"),
                        integer(required(model, "outer_dim", "model"), "model.outer_dim"),
                        integer(required(model, "page_size", "model"), "model.page_size"),
                        integer(required(model, "inner_dim", "model"), "model.inner_dim"),
                        model.has("dtype_width_bytes")
                                ? integer(model.get("dtype_width_bytes"), "model.dtype_width_bytes") : 2));
            } catch (IllegalArgumentException e) {
                throw error("model: " + e.getMessage());
            }
            JsonNode tiers = required(root, "tiers", "");
            object(tiers, "tiers", Set.of("g1", "g2", "g3"));
            for (Iterator<String> it = tiers.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                Tier tier = Tier.valueOf(key.toUpperCase(Locale.ROOT));
                b.tier(tier, tier(tiers.get(key), "tiers." + key));
            }
            if (root.has("events")) {
                JsonNode events = root.get("events");
                if (!events.isObject()) {
                    throw error("events must be an object such as {sink: in-process}");
                }
                String sink = text(required(events, "sink", "events"), "events.sink");
                Map<String, String> settings = new java.util.LinkedHashMap<>();
                for (Iterator<String> it = events.fieldNames(); it.hasNext(); ) {
                    String key = it.next();
                    if (key.equals("heartbeat_ms")) {
                        int ms = integer(events.get(key), "events.heartbeat_ms");
                        if (ms < 0) {
                            throw error("events.heartbeat_ms must be 0 (none) or a positive number of milliseconds,"
                                    + " got " + ms);
                        }
                        b.eventHeartbeat(java.time.Duration.ofMillis(ms));
                    } else if (!key.equals("sink")) {
                        settings.put(key, text(events.get(key), "events." + key));
                    }
                }
                b.events(sink, settings);
            }
            if (root.has("offload")) {
                JsonNode off = root.get("offload");
                object(off, "offload", Set.of("max_in_flight", "batch_size"));
                try {
                    b.offload(off.has("max_in_flight") ? integer(off.get("max_in_flight"), "offload.max_in_flight") : 4,
                            off.has("batch_size") ? integer(off.get("batch_size"), "offload.batch_size") : 16);
                } catch (IllegalArgumentException e) {
                    throw error(e.getMessage());
                }
            }
        }

        /** {@code peer_timeout_ms} and the agent's own settings, each a string, number or boolean. */
        private dev.kvbm.api.spi.AgentProvider.Options agentOptions(JsonNode node) {
            if (!node.isObject()) {
                throw error("agent_options must be an object such as {peer_timeout_ms: 30000, ucx.TLS: tcp}, got "
                        + (node.isContainerNode() ? "an array" : "a " + node.getNodeType().toString()
                        .toLowerCase(Locale.ROOT))); // its value is not shown: it may hold the cluster secret
            }
            java.time.Duration timeout = dev.kvbm.api.spi.AgentProvider.Options.DEFAULT.peerTimeout();
            Map<String, String> properties = new java.util.LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String path = "agent_options." + e.getKey();
                if (e.getKey().equals("peer_timeout_ms")) {
                    int ms = integer(e.getValue(), path);
                    if (ms < 1) {
                        throw error(path + " must be a positive number of milliseconds, got " + ms);
                    }
                    timeout = java.time.Duration.ofMillis(ms);
                } else if (e.getValue().isTextual() || e.getValue().isNumber() || e.getValue().isBoolean()) {
                    properties.put(e.getKey(), e.getValue().asText());
                } else {
                    throw error(path + " must be a string, number or boolean, got " + (e.getKey().toLowerCase(Locale.ROOT)
                            .contains("secret") ? "an " + e.getValue().getNodeType().toString().toLowerCase(Locale.ROOT)
                            + " (not shown)" : e.getValue()));
                }
            }
            return new dev.kvbm.api.spi.AgentProvider.Options(timeout, properties);
        }

        private TierSpec tier(JsonNode node, String path) {
            object(node, path, Set.of("blocks", "bytes", "layout", "block_dimension", "storage", "directory",
                    "provider"));
            if (node.has("blocks") == node.has("bytes")) {
                throw error(path + ": give exactly one of 'blocks' (a count) and 'bytes' (a budget such as 8GiB)");
            }
            TierSpec spec = node.has("blocks")
                    ? TierSpec.blocks(positive(unsignedLong(node.get("blocks"), path + ".blocks"), path + ".blocks"))
                    : TierSpec.bytes(positive(size(node.get("bytes"), path + ".bytes"), path + ".bytes"));
            TierSpec.LayoutType layout = node.has("layout")
                    ? choice(node.get("layout"), path + ".layout", TierSpec.LayoutType.class)
                    : TierSpec.LayoutType.FULLY_CONTIGUOUS;
            if (layout == TierSpec.LayoutType.LAYER_SEPARATE) {
                spec = spec.layerSeparate(node.has("block_dimension")
                        ? choice(node.get("block_dimension"), path + ".block_dimension", BlockDimension.class)
                        : BlockDimension.BLOCK_IS_FIRST_DIM);
            } else if (node.has("block_dimension")) {
                throw error(path + ".block_dimension applies to layout layer_separate only");
            }
            if (node.has("storage")) {
                spec = spec.storage(storage(node.get("storage"), path + ".storage"));
            }
            if (node.has("provider")) {
                spec = spec.provider(text(node.get("provider"), path + ".provider"));
            }
            if (node.has("directory")) {
                spec = spec.directory(Path.of(text(node.get("directory"), path + ".directory")));
            }
            return spec;
        }

        private StorageKind storage(JsonNode node, String path) {
            String v = text(node, path).toLowerCase(Locale.ROOT);
            switch (v) {
                case "system":
                    return StorageKind.SYSTEM;
                case "pinned":
                    return StorageKind.PINNED;
                case "disk":
                    return StorageKind.disk(0);
                default:
                    Matcher m = Pattern.compile("device(?::(\\d{1,9}))?").matcher(v);
                    if (m.matches()) {
                        return StorageKind.device(m.group(1) == null ? 0 : Integer.parseInt(m.group(1)));
                    }
                    throw error(path + " is '" + v + "'; allowed: system, pinned, device, device:N, disk");
            }
        }

        private void object(JsonNode node, String path, Set<String> known) {
            if (node == null || !node.isObject()) {
                throw error((path.isEmpty() ? "the document" : path) + " must be a mapping of keys to values");
            }
            List<String> unknown = new ArrayList<>();
            node.fieldNames().forEachRemaining(k -> {
                if (!known.contains(k)) {
                    unknown.add(k);
                }
            });
            if (!unknown.isEmpty()) {
                throw error(String.format(Locale.ROOT, "unknown key%s %s%s; known: %s", unknown.size() > 1 ? "s" : "",
                        unknown, path.isEmpty() ? "" : " in " + path, new java.util.TreeSet<>(known)));
            }
        }

        private JsonNode required(JsonNode parent, String key, String path) {
            JsonNode n = parent.get(key);
            if (n == null || n.isNull()) {
                throw error((path.isEmpty() ? "" : path + ".") + key + " is required");
            }
            return n;
        }

        private String text(JsonNode node, String path) {
            if (!node.isTextual()) {
                throw error(path + " must be a string, got " + node);
            }
            return node.asText();
        }

        private int integer(JsonNode node, String path) {
            if (!node.isIntegralNumber() || !node.canConvertToInt()) {
                throw error(path + " must be an integer, got " + node);
            }
            return node.asInt();
        }

        private long unsignedLong(JsonNode node, String path) {
            if (!node.isIntegralNumber() || node.bigIntegerValue().signum() < 0
                    || node.bigIntegerValue().bitLength() > 64) {
                throw error(path + " must be an integer 0..2^64-1, got " + node);
            }
            return node.bigIntegerValue().longValue();
        }

        private long positive(long v, String path) {
            if (v <= 0) {
                throw error(path + " must be at least 1, got " + Long.toUnsignedString(v));
            }
            return v;
        }

        private long size(JsonNode node, String path) {
            if (node.isIntegralNumber()) {
                return unsignedLong(node, path);
            }
            Matcher m = SIZE.matcher(text(node, path).trim());
            if (!m.matches()) {
                throw error(path + " is '" + node.asText() + "'; give bytes as a number or with a binary unit:"
                        + " 512MiB, 8GiB, 2TiB");
            }
            String unit = m.group(2) == null ? "B" : m.group(2).toUpperCase(Locale.ROOT);
            if (unit.length() == 2) {
                // KB means 1,000 to the SI and 1,024 to most people who size memory: refuse to guess.
                throw error(path + " is '" + node.asText() + "', which is ambiguous (powers of 1000 or of 1024?):"
                        + " write " + m.group(1) + unit.charAt(0) + "iB for powers of 1024, or the number of bytes");
            }
            int power = "BKMGT".indexOf(unit.charAt(0));
            long base = unit.length() == 3 ? 1024 : 1;
            try {
                long v = Long.parseLong(m.group(1));
                for (int i = 0; i < power; i++) {
                    v = Math.multiplyExact(v, base);
                }
                return v;
            } catch (ArithmeticException | NumberFormatException e) {
                throw error(path + " '" + node.asText() + "' is more bytes than a 64-bit count holds");
            }
        }

        private <E extends Enum<E>> E choice(JsonNode node, String path, Class<E> type) {
            String v = text(node, path);
            for (E e : type.getEnumConstants()) {
                if (e.name().equalsIgnoreCase(v)) {
                    return e;
                }
            }
            List<String> allowed = new ArrayList<>();
            for (E e : type.getEnumConstants()) {
                allowed.add(e.name().toLowerCase(Locale.ROOT));
            }
            throw error(path + " is '" + v + "'; allowed: " + String.join(", ", allowed));
        }

        private IllegalArgumentException error(String message) {
            return new IllegalArgumentException("configuration " + file + ": " + message);
        }
    }
}
