package dev.kvbm.backend.nixl;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.Locale;

/**
 * Encoding helpers and the control messages agents exchange as UCX active messages, little-endian with u64
 * lengths like the metadata. Every message starts with a u8 type and the sender's agent name; decoding is strict
 * (the bytes come from the network) and fails with {@link MalformedException}. On the wire each message travels in
 * its sender's envelope ({@link ClusterAuth#seal}), under a MAC when the fleet has a secret.
 *
 * <ul>
 *   <li>{@code ATTACH(request, workerAddress)}: the sender loaded this agent's metadata; the receiver connects back
 *       and from now on tells the sender before it withdraws a region.</li>
 *   <li>{@code ATTACH_ACK(request, liveRegionIds)}: the regions still registered when the attach was processed; a
 *       region of the loaded metadata that is not among them was withdrawn in between.</li>
 *   <li>{@code REVOKE(round, regionId)}: stop using the region ({@link #ALL_REGIONS}: every region) and answer once
 *       the operations in flight on it are complete.</li>
 *   <li>{@code REVOKE_ACK(round)}: the sender no longer touches the region.</li>
 *   <li>{@code NOTIFY(id, payload)}: a write notification, sent after the write's data is complete at the receiver,
 *       which answers with {@code NOTIFY_ACK}; the write completes for its sender only then.</li>
 *   <li>{@code NOTIFY_ACK(id, status)}: {@link #NOTIFY_TAKEN}, or {@link #NOTIFY_INBOX_FULL} when the receiver's
 *       inbox had no room for it (the sender's write fails with that cause).</li>
 *   <li>{@code DETACH(attachment)}: the sender forgot this agent (that attachment, not a newer one); it no longer
 *       needs to be told about withdrawals.</li>
 * </ul>
 */
final class Wire {
    static final byte ATTACH = 1;
    static final byte ATTACH_ACK = 2;
    static final byte REVOKE = 3;
    static final byte REVOKE_ACK = 4;
    static final byte NOTIFY = 5;
    static final byte DETACH = 6;
    static final byte NOTIFY_ACK = 7;
    /** NOTIFY_ACK statuses. */
    static final long NOTIFY_TAKEN = 0;
    static final long NOTIFY_INBOX_FULL = 1;
    /** The region id that names every region of the sender. */
    static final long ALL_REGIONS = -1;
    /** Largest notification carried, in bytes. */
    static final int MAX_NOTIFICATION_BYTES = 1 << 16;

    private Wire() {
    }

    /**
     * A decoded control message; fields a type does not use are zero or empty. {@code regionId} is REVOKE's region
     * and NOTIFY_ACK's status.
     */
    record Message(byte type, String sender, long id, long regionId, byte[] bytes, long[] ids) {
    }

    static byte[] attach(String sender, long request, byte[] workerAddress) {
        return message(ATTACH, sender, 8 + 8 + workerAddress.length).putLong(request)
                .putLong(workerAddress.length).put(workerAddress).array();
    }

    static byte[] attachAck(String sender, long request, long[] liveRegionIds) {
        ByteBuffer b = message(ATTACH_ACK, sender, 8 + 8 + 8L * liveRegionIds.length).putLong(request)
                .putLong(liveRegionIds.length);
        for (long id : liveRegionIds) {
            b.putLong(id);
        }
        return b.array();
    }

    static byte[] revoke(String sender, long round, long regionId) {
        return message(REVOKE, sender, 16).putLong(round).putLong(regionId).array();
    }

    static byte[] revokeAck(String sender, long round) {
        return message(REVOKE_ACK, sender, 8).putLong(round).array();
    }

    static byte[] notify(String sender, long id, byte[] payload) {
        return message(NOTIFY, sender, 8 + 8 + payload.length).putLong(id).putLong(payload.length).put(payload)
                .array();
    }

    static byte[] notifyAck(String sender, long id, long status) {
        return message(NOTIFY_ACK, sender, 16).putLong(id).putLong(status).array();
    }

    static byte[] detach(String sender, long attachment) {
        return message(DETACH, sender, 8).putLong(attachment).array();
    }

    private static ByteBuffer message(byte type, String sender, long extra) {
        byte[] name = utf8(sender);
        return ByteBuffer.allocate(Math.toIntExact(1 + 8 + name.length + extra)).order(ByteOrder.LITTLE_ENDIAN)
                .put(type).putLong(name.length).put(name);
    }

    static Message decode(ByteBuffer in) throws MalformedException {
        in.order(ByteOrder.LITTLE_ENDIAN);
        try {
            byte type = in.get();
            String sender = string(in, "sender", UcxMetadata.MAX_NAME_BYTES);
            Message m = switch (type) {
                case ATTACH -> new Message(type, sender, in.getLong(), 0,
                        bytes(in, "worker address", UcxMetadata.MAX_OPAQUE_BYTES), new long[0]);
                case ATTACH_ACK -> {
                    long request = in.getLong();
                    int at = in.position();
                    long count = in.getLong();
                    if (count < 0 || count > in.remaining() / 8) {
                        throw new MalformedException(at, Long.toUnsignedString(count) + " region ids cannot fit in "
                                + in.remaining() + " bytes");
                    }
                    long[] ids = new long[(int) count];
                    for (int i = 0; i < ids.length; i++) {
                        ids[i] = in.getLong();
                    }
                    yield new Message(type, sender, request, 0, new byte[0], ids);
                }
                case REVOKE -> new Message(type, sender, in.getLong(), in.getLong(), new byte[0], new long[0]);
                case REVOKE_ACK -> new Message(type, sender, in.getLong(), 0, new byte[0], new long[0]);
                case NOTIFY -> new Message(type, sender, in.getLong(), 0,
                        bytes(in, "notification", MAX_NOTIFICATION_BYTES), new long[0]);
                case NOTIFY_ACK -> {
                    long id = in.getLong();
                    int at = in.position();
                    long status = in.getLong();
                    if (status != NOTIFY_TAKEN && status != NOTIFY_INBOX_FULL) {
                        throw new MalformedException(at, "unknown notification status " + Long.toUnsignedString(status));
                    }
                    yield new Message(type, sender, id, status, new byte[0], new long[0]);
                }
                case DETACH -> new Message(type, sender, in.getLong(), 0, new byte[0], new long[0]);
                default -> throw new MalformedException(0, "unknown control message type " + type);
            };
            if (in.hasRemaining()) {
                throw new MalformedException(in.position(), in.remaining() + " bytes follow the message");
            }
            return m;
        } catch (BufferUnderflowException e) {
            throw new MalformedException(in.limit(), "the message ends early (" + in.limit() + " bytes)");
        }
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** A u64 length and that many UTF-8 bytes. */
    static String string(ByteBuffer in, String what, int max) throws MalformedException {
        int at = in.position();
        byte[] raw = bytes(in, what, max);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(raw)).toString();
        } catch (CharacterCodingException e) {
            throw new MalformedException(at, what + " is not valid UTF-8");
        }
    }

    /** A u64 length and that many bytes, the length checked against {@code max} and the bytes that remain. */
    static byte[] bytes(ByteBuffer in, String what, int max) throws MalformedException {
        int at = in.position();
        long length = in.getLong();
        if (length < 0 || length > max || length > in.remaining()) {
            throw new MalformedException(at, String.format(Locale.ROOT, "%s length %s must be 0..%d and fit in the %d"
                    + " bytes that remain", what, Long.toUnsignedString(length), max, in.remaining()));
        }
        byte[] out = new byte[(int) length];
        in.get(out);
        return out;
    }

    static String hex(byte[] bytes) {
        return "0x" + HexFormat.of().formatHex(bytes);
    }

    /** Bytes that are not what they claim to be, with the offset of the first problem. */
    static final class MalformedException extends Exception {
        private static final long serialVersionUID = 1L;
        final int offset;

        MalformedException(int offset, String message) {
            super(message);
            this.offset = offset;
        }
    }
}
