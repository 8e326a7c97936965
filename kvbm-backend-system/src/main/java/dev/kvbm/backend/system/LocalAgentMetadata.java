package dev.kvbm.backend.system;

import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The local agent's metadata blob: magic {@code KLA1}, the agent name (u16 length + UTF-8), then the registered
 * regions (u32 count, each u8 memory type, u64 address, u64 size, u64 device id); big-endian, nothing after.
 * Decoding is strict: a malformed blob fails with an {@link IllegalArgumentException} naming what and where.
 */
record LocalAgentMetadata(String agentName, List<Entry> entries) {

    private static final int MAGIC = 0x4B4C4131; // "KLA1"
    private static final int UCX_AGENT_MAGIC = 0x4B555831; // "KUX1", the ucx agent's blob
    private static final int ENTRY_BYTES = 1 + 8 + 8 + 8;

    /** One registered region. */
    record Entry(MemType memType, MemoryRegion region, long deviceId) {
    }

    LocalAgentMetadata {
        entries = List.copyOf(entries);
    }

    byte[] encode() {
        byte[] name = agentName.getBytes(StandardCharsets.UTF_8);
        ByteBuffer out = ByteBuffer.allocate(4 + 2 + name.length + 4 + entries.size() * ENTRY_BYTES);
        out.putInt(MAGIC).putShort((short) name.length).put(name).putInt(entries.size());
        for (Entry e : entries) {
            out.put((byte) e.memType().ordinal()).putLong(e.region().address()).putLong(e.region().size())
                    .putLong(e.deviceId());
        }
        return out.array();
    }

    static LocalAgentMetadata decode(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes);
        try {
            int magic = in.getInt();
            if (magic == UCX_AGENT_MAGIC) {
                throw malformed(0, "this is metadata of a ucx agent (kvbm-backend-nixl, peers in other processes),"
                        + " not of a local agent; both workers must use the same agent kind");
            }
            if (magic != MAGIC) {
                throw malformed(0, String.format(Locale.ROOT, "magic 0x%08x is not the local agent's 0x%08x", magic, MAGIC));
            }
            int nameLength = Short.toUnsignedInt(in.getShort());
            if (nameLength == 0 || nameLength > in.remaining()) {
                throw malformed(4, "agent name length " + nameLength + " must be 1.." + in.remaining());
            }
            String name = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(in.slice(in.position(), nameLength)).toString();
            in.position(in.position() + nameLength);
            int countAt = in.position();
            long count = Integer.toUnsignedLong(in.getInt());
            if (count * ENTRY_BYTES != in.remaining()) {
                throw malformed(countAt, String.format(Locale.ROOT,
                        "%d regions need %d bytes but %d follow", count, count * ENTRY_BYTES, in.remaining()));
            }
            List<Entry> entries = new ArrayList<>((int) count);
            MemType[] types = MemType.values();
            for (int i = 0; i < count; i++) {
                int at = in.position();
                int type = Byte.toUnsignedInt(in.get());
                if (type >= types.length) {
                    throw malformed(at, "region " + i + " has memory type " + type + ", must be 0.." + (types.length - 1));
                }
                long address = in.getLong();
                long size = in.getLong();
                long deviceId = in.getLong();
                try {
                    entries.add(new Entry(types[type], new MemoryRegion(address, size), deviceId));
                } catch (IllegalArgumentException e) {
                    throw malformed(at, "region " + i + ": " + e.getMessage());
                }
            }
            return new LocalAgentMetadata(name, entries);
        } catch (BufferUnderflowException e) {
            throw malformed(bytes.length, "the blob ends early (" + bytes.length + " bytes)");
        } catch (CharacterCodingException e) {
            throw malformed(6, "agent name is not valid UTF-8");
        }
    }

    private static IllegalArgumentException malformed(int offset, String what) {
        return new IllegalArgumentException(String.format(Locale.ROOT,
                "not local agent metadata (at byte %d): %s", offset, what));
    }
}
