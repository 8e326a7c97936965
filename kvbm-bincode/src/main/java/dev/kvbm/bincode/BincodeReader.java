package dev.kvbm.bincode;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Decodes bincode 2 standard-format values from a byte array, front to back, treating the input as untrusted:
 * every failure is a {@link BincodeException} with the offset, and no read allocates more than the bytes
 * remaining. Unsigned 64-bit values come back as their bit patterns in a {@code long}. In strict mode
 * {@link #finish()} also rejects trailing bytes. Not thread-safe.
 */
public final class BincodeReader {
    private final byte[] input;
    private final boolean strict;
    private int position;

    /** A lenient reader: {@link #finish()} allows trailing bytes (as {@code decode_from_slice} does). */
    public BincodeReader(byte[] input) {
        this(input, false);
    }

    /** A reader whose {@link #finish()} rejects trailing bytes when {@code strict}. */
    public BincodeReader(byte[] input, boolean strict) {
        this.input = input.clone();
        this.strict = strict;
    }

    /** Bytes not yet read. */
    public int remaining() {
        return input.length - position;
    }

    /** Offset of the next byte to read. */
    public int position() {
        return position;
    }

    /** Ends decoding; in strict mode fails when bytes are left over. */
    public void finish() {
        if (strict && remaining() > 0) {
            throw new BincodeException(position, remaining() + " trailing bytes after the value");
        }
    }

    public int readU8() {
        need(1, "u8");
        return input[position++] & 0xFF;
    }

    public int readU16() {
        return (int) readVarint(16, "u16");
    }

    public long readU32() {
        return readVarint(32, "u32");
    }

    /** An unsigned 64-bit value as its bit pattern. */
    public long readU64() {
        return readVarint(64, "u64");
    }

    /**
     * A {@code usize} length or element count. Every element of the formats read here takes at least one byte, so
     * a length larger than the bytes remaining is rejected before anything is allocated.
     */
    public int readLength() {
        int at = position;
        long length = readVarint(64, "usize length");
        if (Long.compareUnsigned(length, remaining()) > 0) {
            throw new BincodeException(at, String.format(Locale.ROOT,
                    "length %s exceeds the %d bytes remaining", Long.toUnsignedString(length), remaining()));
        }
        return (int) length;
    }

    public BigInteger readU128() {
        int at = position;
        int marker = readU8();
        if (marker != Varint.U128) {
            position = at;
            return new BigInteger(Long.toUnsignedString(readVarint(64, "u128")));
        }
        need(16, "u128");
        long low = littleEndian(8);
        long high = littleEndian(8);
        return new BigInteger(Long.toUnsignedString(high)).shiftLeft(64).or(new BigInteger(Long.toUnsignedString(low)));
    }

    public byte readI8() {
        return (byte) readU8();
    }

    public short readI16() {
        long u = readVarint(16, "i16");
        return (short) ((u >>> 1) ^ -(u & 1));
    }

    public int readI32() {
        long u = readVarint(32, "i32");
        return (int) ((u >>> 1) ^ -(u & 1));
    }

    public long readI64() {
        long u = readVarint(64, "i64");
        return (u >>> 1) ^ -(u & 1);
    }

    public boolean readBool() {
        return readZeroOrOne("bool byte %d is neither 0 nor 1");
    }

    public float readF32() {
        need(4, "f32");
        return Float.intBitsToFloat((int) littleEndian(4));
    }

    public double readF64() {
        need(8, "f64");
        return Double.longBitsToDouble(littleEndian(8));
    }

    /** A Rust {@code char}: 1 to 4 UTF-8 bytes forming one Unicode scalar value. */
    public int readChar() {
        int at = position;
        int first = readU8();
        int width = first < 0x80 ? 1 : first >= 0xC2 && first <= 0xDF ? 2 : first >= 0xE0 && first <= 0xEF ? 3
                : first >= 0xF0 && first <= 0xF4 ? 4 : 0;
        if (width == 0) {
            throw new BincodeException(at, String.format(Locale.ROOT, "byte 0x%02x cannot start a UTF-8 char", first));
        }
        position = at;
        need(width, "char");
        String s = utf8(at, width, "char");
        position = at + width;
        if (s.codePointCount(0, s.length()) != 1) {
            throw new BincodeException(at, "invalid UTF-8 char encoding");
        }
        return s.codePointAt(0);
    }

    /** A varint length, then that many bytes of valid UTF-8. */
    public String readString() {
        int length = readLength();
        int at = position;
        String s = utf8(at, length, "string");
        position = at + length;
        return s;
    }

    /** A varint length, then that many bytes. */
    public byte[] readBytes() {
        int length = readLength();
        byte[] out = java.util.Arrays.copyOfRange(input, position, position + length);
        position += length;
        return out;
    }

    /**
     * An enum's variant index, which must be below {@code variantCount}.
     *
     * @param enumName named in the error message
     */
    public int readVariant(int variantCount, String enumName) {
        int at = position;
        long index = readVarint(32, enumName + " variant");
        if (index >= variantCount) {
            throw new BincodeException(at, String.format(Locale.ROOT,
                    "%s variant index %d out of range: %s has %d variants", enumName, index, enumName, variantCount));
        }
        return (int) index;
    }

    /** An {@code Option}'s tag: true for Some. */
    public boolean readOptionTag() {
        return readZeroOrOne("Option tag %d is neither 0 (None) nor 1 (Some)");
    }

    /** One byte that must be 0 or 1; {@code error} formats the offending value. */
    private boolean readZeroOrOne(String error) {
        int at = position;
        int b = readU8();
        if (b > 1) {
            throw new BincodeException(at, String.format(Locale.ROOT, error, b));
        }
        return b == 1;
    }

    private long readVarint(int targetBits, String what) {
        int at = position;
        int marker = readU8();
        if (marker <= Varint.MAX_SINGLE) {
            return marker;
        }
        int width = switch (marker) {
            case Varint.U16 -> 16;
            case Varint.U32 -> 32;
            case Varint.U64 -> 64;
            case Varint.U128 -> 128;
            default -> throw new BincodeException(at, "byte 255 is not a varint marker for " + what);
        };
        if (width > targetBits) {
            throw new BincodeException(at, String.format(Locale.ROOT,
                    "%s has a %d-bit varint marker (%d); a %s holds at most %d bits", what, width, marker, what,
                    targetBits));
        }
        need(width / 8, what);
        return littleEndian(width / 8);
    }

    private long littleEndian(int bytes) {
        long value = 0;
        for (int i = 0; i < bytes; i++) {
            value |= (input[position++] & 0xFFL) << (8 * i);
        }
        return value;
    }

    private void need(int bytes, String what) {
        if (remaining() < bytes) {
            throw new BincodeException(position, String.format(Locale.ROOT,
                    "%s needs %d bytes but only %d remain", what, bytes, remaining()));
        }
    }

    private String utf8(int at, int length, String what) {
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(input, at, length));
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw new BincodeException(at, "invalid UTF-8 in " + what + ": " + e.getMessage());
        }
    }
}
