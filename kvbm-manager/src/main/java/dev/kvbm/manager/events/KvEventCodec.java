package dev.kvbm.manager.events;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.OptionalLong;

/**
 * The JSON form of {@link KvEvent}s and {@link KvSnapshot}s on the wire, in the field names of Dynamo's router
 * events ({@code worker_id}, {@code event_id}, {@code stored}/{@code removed}/{@code cleared},
 * {@code parent_hash}, {@code block_hash} for the sequence hash, {@code tokens_hash} for the block hash), with a
 * {@code version} field (1; absent is read as 1) and the publisher's {@code instance} (absent is read as 0). u64
 * values are written as unsigned JSON integers.
 *
 * <pre>{@code
 * {"version":1,"worker_id":7,"event":{"event_id":42,"instance":9,"data":{"stored":{"parent_hash":11,
 *     "blocks":[{"block_hash":12,"tokens_hash":13}]}}}}
 * {"version":1,"worker_id":7,"event":{"event_id":43,"data":{"removed":{"block_hashes":[12]}}}}
 * {"version":1,"worker_id":7,"event":{"event_id":1,"data":"cleared"}}
 * {"version":1,"worker_id":7,"last_event_id":43,"blocks":[{"block_hash":11,"tokens_hash":10}]}   (a snapshot)
 * }</pre>
 *
 * <p>Decoding treats its input as untrusted: bad JSON, a wrong type, a negative or larger-than-u64 number, an
 * unknown version or event kind, or more than {@value #MAX_EVENT_BLOCKS} blocks in an event all throw
 * {@link KvEventFormatException} naming the field; nothing else is thrown.
 */
public final class KvEventCodec {
    /** The format version this codec writes and reads. */
    public static final int VERSION = 1;
    /** The most blocks one event may carry. */
    public static final int MAX_EVENT_BLOCKS = 1 << 16;
    /** The most blocks one snapshot may carry. */
    public static final int MAX_SNAPSHOT_BLOCKS = 1 << 24;

    /** Strict: a key given twice, or anything after the object, is an error (the bytes come from other processes). */
    private static final ObjectMapper MAPPER = com.fasterxml.jackson.databind.json.JsonMapper.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS).build();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;
    private static final BigInteger U64_LIMIT = BigInteger.ONE.shiftLeft(64);

    private KvEventCodec() {
    }

    /** {@return the event as UTF-8 JSON} */
    public static byte[] encode(KvEvent event) {
        ObjectNode data = NODES.objectNode();
        ObjectNode root = NODES.objectNode();
        root.put("version", VERSION);
        root.set("worker_id", u64(event.workerId()));
        ObjectNode e = root.putObject("event");
        e.set("event_id", u64(event.eventId()));
        e.set("instance", u64(event.instance()));
        switch (event.data()) {
            case KvEvent.Stored s -> {
                ObjectNode stored = data.putObject("stored");
                stored.set("parent_hash", s.parentHash().isPresent() ? u64(s.parentHash().getAsLong()) : NODES.nullNode());
                stored.set("blocks", blocks(s.blocks()));
                e.set("data", data);
            }
            case KvEvent.Removed r -> {
                ArrayNode hashes = data.putObject("removed").putArray("block_hashes");
                for (long h : r.sequenceHashes()) {
                    hashes.add(u64(h));
                }
                e.set("data", data);
            }
            case KvEvent.Cleared c -> e.put("data", "cleared");
        }
        return write(root);
    }

    /** {@return the snapshot as UTF-8 JSON} */
    public static byte[] encode(KvSnapshot snapshot) {
        ObjectNode root = NODES.objectNode();
        root.put("version", VERSION);
        root.set("worker_id", u64(snapshot.workerId()));
        root.set("instance", u64(snapshot.instance()));
        root.set("last_event_id", u64(snapshot.lastEventId()));
        root.set("blocks", blocks(snapshot.blocks()));
        return write(root);
    }

    private static ArrayNode blocks(List<KvEvent.StoredBlock> blocks) {
        ArrayNode out = NODES.arrayNode();
        for (KvEvent.StoredBlock b : blocks) {
            ObjectNode o = out.addObject();
            o.set("block_hash", u64(b.sequenceHash()));
            o.set("tokens_hash", u64(b.blockHash()));
        }
        return out;
    }

    private static JsonNode u64(long value) {
        return value >= 0 ? NODES.numberNode(value) : NODES.numberNode(new BigInteger(Long.toUnsignedString(value)));
    }

    private static byte[] write(JsonNode node) {
        try {
            return MAPPER.writeValueAsBytes(node);
        } catch (JacksonException e) {
            throw new IllegalStateException("encoding a tree of our own cannot fail", e);
        }
    }

    /**
     * Decodes one event.
     *
     * @param json UTF-8 JSON from another process
     * @return the event
     * @throws KvEventFormatException when it is not a valid event, naming what is wrong
     */
    public static KvEvent decodeEvent(byte[] json) {
        JsonNode root = parse(json);
        version(root);
        long worker = u64(root, "worker_id");
        JsonNode event = object(root, "event");
        long eventId = u64(event, "event_id");
        if (eventId == 0) {
            throw new KvEventFormatException("event.event_id is 0; event ids start at 1");
        }
        long instance = event.has("instance") ? u64(event, "instance") : 0;
        JsonNode data = event.get("data");
        if (data == null) {
            throw new KvEventFormatException("event.data is missing");
        }
        if (data.isTextual()) {
            if (!data.asText().equals("cleared")) {
                throw new KvEventFormatException("event.data is \"" + clip(data.asText())
                        + "\"; the only event without a body is \"cleared\"");
            }
            return new KvEvent(worker, instance, eventId, new KvEvent.Cleared());
        }
        if (!data.isObject() || data.size() != 1) {
            throw new KvEventFormatException("event.data must be \"cleared\" or an object with exactly one of"
                    + " stored, removed, cleared");
        }
        String kind = data.fieldNames().next();
        JsonNode body = data.get(kind);
        return switch (kind) {
            case "stored" -> {
                if (!body.isObject()) {
                    throw new KvEventFormatException("event.data.stored must be an object");
                }
                JsonNode parent = body.get("parent_hash");
                OptionalLong parentHash = parent == null || parent.isNull() ? OptionalLong.empty()
                        : OptionalLong.of(u64Value(parent, "event.data.stored.parent_hash"));
                List<KvEvent.StoredBlock> blocks = blocks(body.get("blocks"), "event.data.stored.blocks",
                        MAX_EVENT_BLOCKS);
                if (blocks.isEmpty()) {
                    throw new KvEventFormatException("event.data.stored.blocks is empty");
                }
                yield new KvEvent(worker, instance, eventId, new KvEvent.Stored(parentHash, blocks));
            }
            case "removed" -> {
                if (!body.isObject()) {
                    throw new KvEventFormatException("event.data.removed must be an object");
                }
                JsonNode hashes = body.get("block_hashes");
                if (hashes == null || !hashes.isArray() || hashes.size() > MAX_EVENT_BLOCKS) {
                    throw new KvEventFormatException("event.data.removed.block_hashes must be an array of 0 to "
                            + MAX_EVENT_BLOCKS + " u64 values");
                }
                long[] out = new long[hashes.size()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = u64Value(hashes.get(i), "event.data.removed.block_hashes[" + i + "]");
                }
                yield new KvEvent(worker, instance, eventId, new KvEvent.Removed(out));
            }
            case "cleared" -> new KvEvent(worker, instance, eventId, new KvEvent.Cleared());
            default -> throw new KvEventFormatException("event.data." + clip(kind)
                    + " is not an event kind this reader knows (stored, removed, cleared)");
        };
    }

    /**
     * Decodes one snapshot.
     *
     * @param json UTF-8 JSON from another process
     * @return the snapshot
     * @throws KvEventFormatException when it is not a valid snapshot, naming what is wrong
     */
    public static KvSnapshot decodeSnapshot(byte[] json) {
        JsonNode root = parse(json);
        version(root);
        return new KvSnapshot(u64(root, "worker_id"), root.has("instance") ? u64(root, "instance") : 0,
                u64(root, "last_event_id"),
                blocks(root.get("blocks"), "blocks", MAX_SNAPSHOT_BLOCKS));
    }

    private static JsonNode parse(byte[] json) {
        if (json == null || json.length == 0) {
            throw new KvEventFormatException("empty message; expected a JSON object");
        }
        try {
            JsonNode root = MAPPER.readTree(json);
            if (root == null || !root.isObject()) {
                throw new KvEventFormatException("expected a JSON object, got " + (root == null ? "nothing"
                        : root.getNodeType().toString().toLowerCase(Locale.ROOT)));
            }
            return root;
        } catch (JacksonException e) {
            throw new KvEventFormatException("not JSON: " + clip(e.getOriginalMessage()), e);
        } catch (java.io.IOException e) {
            throw new KvEventFormatException("not readable: " + clip(e.getMessage()), e);
        }
    }

    private static void version(JsonNode root) {
        JsonNode v = root.get("version");
        if (v != null && !(v.isIntegralNumber() && v.canConvertToInt() && v.asInt() == VERSION)) {
            throw new KvEventFormatException("version " + clip(v.toString()) + " is not one this reader knows ("
                    + VERSION + ")");
        }
    }

    private static JsonNode object(JsonNode parent, String field) {
        JsonNode n = parent.get(field);
        if (n == null || !n.isObject()) {
            throw new KvEventFormatException(field + " must be an object");
        }
        return n;
    }

    private static long u64(JsonNode parent, String field) {
        JsonNode n = parent.get(field);
        if (n == null) {
            throw new KvEventFormatException(field + " is missing");
        }
        return u64Value(n, field);
    }

    private static long u64Value(JsonNode n, String field) {
        if (!n.isIntegralNumber()) {
            throw new KvEventFormatException(field + " must be an unsigned integer, got "
                    + n.getNodeType().toString().toLowerCase(Locale.ROOT) + " " + clip(n.toString()));
        }
        BigInteger v = n.bigIntegerValue();
        if (v.signum() < 0 || v.compareTo(U64_LIMIT) >= 0) {
            throw new KvEventFormatException(field + " is " + clip(v.toString()) + ", outside 0 to 2^64-1");
        }
        return v.longValue();
    }

    private static List<KvEvent.StoredBlock> blocks(JsonNode array, String field, int max) {
        if (array == null || !array.isArray()) {
            throw new KvEventFormatException(field + " must be an array");
        }
        if (array.size() > max) {
            throw new KvEventFormatException(field + " has " + array.size() + " blocks, more than " + max);
        }
        List<KvEvent.StoredBlock> out = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++) {
            JsonNode b = array.get(i);
            if (!b.isObject()) {
                throw new KvEventFormatException(field + "[" + i + "] must be an object");
            }
            out.add(new KvEvent.StoredBlock(u64(b, "block_hash"), u64(b, "tokens_hash")));
        }
        return out;
    }

    private static String clip(String s) {
        return s == null ? "" : s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }
}
