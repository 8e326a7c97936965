package dev.kvbm.backend.nixl;

import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * The ucx agent's metadata blob, in bincode's default (legacy, fixed-width) encoding of
 * {@code struct { magic: [u8; 4], agent_name: String, worker_address: Vec<u8>, regions: Vec<Region>, crc32c: u32 }}
 * with {@code Region { id: u64, mem_type: MemType (u32 variant), addr: u64, len: u64, device_id: u64, rkey: Vec<u8> }}:
 * little-endian integers, u64 lengths. The magic is {@code KUX1}; the CRC-32C covers every byte before it.
 *
 * <p>The worker address and the packed rkeys are UCX's own opaque formats, handed to UCX when the blob is loaded.
 * Decoding is strict and bounded by the blob's length: every length and count is checked against the bytes that
 * remain, regions must be non-empty and must not overlap, ids are unique, nothing may follow the checksum, and the
 * checksum must match, so a corrupted blob never reaches UCX. A malformed blob fails with an
 * {@link IllegalArgumentException} naming what and where.
 *
 * <p>An agent with a cluster secret ({@link ClusterAuth}) writes {@code KUX2} instead: the same fields, then
 * {@code instance: [u8; 16], generation: u64} (the agent's run and how many blobs it has made) and, in place of the
 * checksum, {@code mac: [u8; 32]}, HMAC-SHA-256 over every byte before it. A checksum catches corruption, not a
 * peer that means harm: with a secret, only a blob whose MAC verifies is parsed at all. Each mode refuses the
 * other's blobs, naming what to change.
 */
record UcxMetadata(String agentName, byte[] workerAddress, List<Region> regions, byte[] instance, long generation) {

    static final byte[] MAGIC = {'K', 'U', 'X', '1'};
    static final byte[] AUTHENTICATED_MAGIC = {'K', 'U', 'X', '2'};
    private static final byte[] LOCAL_AGENT_MAGIC = {'K', 'L', 'A', '1'};
    static final int MAX_NAME_BYTES = 0xFFFF;
    static final int MAX_OPAQUE_BYTES = 1 << 20;
    /** id, mem type, addr, len, device id, rkey length, and at least one rkey byte. */
    private static final int MIN_REGION_BYTES = 8 + 4 + 8 + 8 + 8 + 8 + 1;

    /** One registered region and the packed rkey that reaches it. */
    record Region(long id, MemType memType, MemoryRegion region, long deviceId, byte[] rkey) {
    }

    UcxMetadata {
        regions = List.copyOf(regions);
    }

    /** Metadata of an agent in trusted-network mode (no run, no generation). */
    UcxMetadata(String agentName, byte[] workerAddress, List<Region> regions) {
        this(agentName, workerAddress, regions, null, 0);
    }

    /** {@return the trusted-network blob ({@code KUX1}, with its checksum)} */
    byte[] encode() {
        return encode(null, 0);
    }

    /**
     * {@return the blob as {@code auth}'s mode writes it: {@code KUX2} under a MAC when it has a secret (run
     * {@code auth.instance()}, {@code generation}), else {@code KUX1}}
     */
    byte[] encode(ClusterAuth auth, long generation) {
        boolean mac = auth != null && auth.authenticated();
        byte[] name = Wire.utf8(agentName);
        int size = 4 + 8 + name.length + 8 + workerAddress.length + 8
                + (mac ? ClusterAuth.INSTANCE_BYTES + 8 + ClusterAuth.MAC_BYTES : 4);
        for (Region r : regions) {
            size += 8 + 4 + 8 + 8 + 8 + 8 + r.rkey.length;
        }
        ByteBuffer out = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        out.put(mac ? AUTHENTICATED_MAGIC : MAGIC);
        out.putLong(name.length).put(name);
        out.putLong(workerAddress.length).put(workerAddress);
        out.putLong(regions.size());
        for (Region r : regions) {
            out.putLong(r.id).putInt(r.memType.ordinal()).putLong(r.region.address()).putLong(r.region.size())
                    .putLong(r.deviceId).putLong(r.rkey.length).put(r.rkey);
        }
        if (mac) {
            out.put(auth.instance()).putLong(generation);
            out.put(auth.metadataMac(out.array(), out.position()));
            return out.array();
        }
        CRC32C crc = new CRC32C();
        crc.update(out.array(), 0, out.position());
        out.putInt((int) crc.getValue());
        return out.array();
    }

    /** {@link #decode(byte[], ClusterAuth)} for an agent in trusted-network mode. */
    static UcxMetadata decode(byte[] bytes) {
        return decode(bytes, ClusterAuth.trustedNetwork());
    }

    /**
     * Parses a peer's blob, checking it as {@code auth}'s mode requires: with a secret, the MAC before anything
     * else; without, the checksum.
     */
    static UcxMetadata decode(byte[] bytes, ClusterAuth auth) {
        if (bytes == null) {
            throw new IllegalArgumentException("ucx agent metadata is null");
        }
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        try {
            byte[] magic = new byte[4];
            in.get(magic);
            if (Arrays.equals(magic, LOCAL_AGENT_MAGIC)) {
                throw malformed(0, "this is metadata of a local agent (kvbm-backend-system, peers in one JVM), not of"
                        + " a ucx agent; both workers must use the same agent kind");
            }
            boolean signed = Arrays.equals(magic, AUTHENTICATED_MAGIC);
            if (!signed && !Arrays.equals(magic, MAGIC)) {
                throw malformed(0, "magic " + Wire.hex(magic) + " is not the ucx agent's " + Wire.hex(MAGIC) + " or "
                        + Wire.hex(AUTHENTICATED_MAGIC));
            }
            if (signed != auth.authenticated()) {
                throw malformed(0, signed
                        ? "the peer authenticates its metadata with a cluster secret, and this agent has none: give it"
                        + " the fleet's (agent option '" + ClusterAuth.SECRET_OPTION + "' or " + ClusterAuth.SECRET_ENV
                        + ")"
                        : "unauthenticated metadata (the peer runs in trusted-network mode, without a cluster secret):"
                        + " give every agent of the fleet the same secret");
            }
            int body;
            if (signed) {
                if (bytes.length < 4 + ClusterAuth.INSTANCE_BYTES + 8 + ClusterAuth.MAC_BYTES) {
                    throw malformed(bytes.length, "the blob ends early (" + bytes.length + " bytes)");
                }
                int macAt = bytes.length - ClusterAuth.MAC_BYTES;
                if (!auth.metadataMacMatches(bytes, macAt, Arrays.copyOfRange(bytes, macAt, bytes.length))) {
                    throw malformed(macAt, "its MAC does not verify: the blob was forged, altered or truncated, or"
                            + " made with another cluster secret");
                }
                body = macAt - ClusterAuth.INSTANCE_BYTES - 8;
            } else {
                if (bytes.length < 4 + 4) {
                    throw malformed(bytes.length, "the blob ends early (" + bytes.length + " bytes)");
                }
                body = bytes.length - 4;
                CRC32C crc = new CRC32C();
                crc.update(bytes, 0, body);
                int expected = ByteBuffer.wrap(bytes, body, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
                if ((int) crc.getValue() != expected) {
                    throw malformed(body, String.format(Locale.ROOT,
                            "checksum 0x%08x does not match the bytes before it (0x%08x): the blob is corrupt or"
                                    + " truncated", expected, (int) crc.getValue()));
                }
            }
            in.limit(body);
            String name = Wire.string(in, "agent name", MAX_NAME_BYTES);
            if (name.isEmpty()) {
                throw malformed(12, "the agent name is empty");
            }
            byte[] address = Wire.bytes(in, "worker address", MAX_OPAQUE_BYTES);
            if (address.length == 0) {
                throw malformed(in.position(), "the worker address is empty");
            }
            int countAt = in.position();
            long count = in.getLong();
            if (count < 0 || count > in.remaining() / MIN_REGION_BYTES) {
                throw malformed(countAt, Long.toUnsignedString(count) + " regions cannot fit in the "
                        + in.remaining() + " bytes that follow");
            }
            List<Region> regions = new ArrayList<>((int) count);
            Set<Long> ids = new HashSet<>();
            MemType[] types = MemType.values();
            for (int i = 0; i < count; i++) {
                int at = in.position();
                long id = in.getLong();
                int type = in.getInt();
                if (type < 0 || type >= types.length) {
                    throw malformed(at, "region " + i + " has memory type " + Integer.toUnsignedString(type)
                            + ", must be 0.." + (types.length - 1));
                }
                long address0 = in.getLong();
                long size = in.getLong();
                long deviceId = in.getLong();
                byte[] rkey = Wire.bytes(in, "region " + i + " rkey", MAX_OPAQUE_BYTES);
                if (rkey.length == 0) {
                    throw malformed(at, "region " + i + " has an empty rkey");
                }
                if (!ids.add(id)) {
                    throw malformed(at, "region id " + Long.toUnsignedString(id) + " appears twice");
                }
                MemoryRegion region;
                try {
                    region = new MemoryRegion(address0, size);
                } catch (IllegalArgumentException e) {
                    throw malformed(at, "region " + i + ": " + e.getMessage());
                }
                if (size == 0) {
                    throw malformed(at, "region " + i + " is empty; a registration covers at least one byte");
                }
                regions.add(new Region(id, types[type], region, deviceId, rkey));
            }
            if (in.hasRemaining()) {
                throw malformed(in.position(), in.remaining() + " bytes follow the last region");
            }
            List<Region> sorted = new ArrayList<>(regions);
            sorted.sort(Comparator.comparing(r -> r.region.address(), Long::compareUnsigned));
            for (int i = 1; i < sorted.size(); i++) {
                if (sorted.get(i - 1).region.overlaps(sorted.get(i).region)) {
                    throw malformed(bytes.length, "regions " + sorted.get(i - 1).region + " and "
                            + sorted.get(i).region + " overlap; registrations are disjoint");
                }
            }
            if (!signed) {
                return new UcxMetadata(name, address, regions);
            }
            ByteBuffer tail = ByteBuffer.wrap(bytes, body, ClusterAuth.INSTANCE_BYTES + 8)
                    .order(ByteOrder.LITTLE_ENDIAN);
            byte[] instance = new byte[ClusterAuth.INSTANCE_BYTES];
            tail.get(instance);
            return new UcxMetadata(name, address, regions, instance, tail.getLong());
        } catch (BufferUnderflowException e) {
            throw malformed(bytes.length, "the blob ends early (" + bytes.length + " bytes)");
        } catch (Wire.MalformedException e) {
            throw malformed(e.offset, e.getMessage());
        }
    }

    private static IllegalArgumentException malformed(int offset, String what) {
        return new IllegalArgumentException(String.format(Locale.ROOT,
                "not ucx agent metadata (at byte %d): %s", offset, what));
    }
}
