package dev.kvbm.bincode;

import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;

/**
 * Encodes values in bincode 2's standard format into a growable buffer; {@link #toByteArray()} returns what was
 * written. Unsigned values wider than Java's signed types are passed as their bit patterns ({@code writeU64(-1)}
 * writes 2^64−1). Not thread-safe.
 */
public final class BincodeWriter {
    private static final BigInteger U128_MAX = BigInteger.ONE.shiftLeft(128).subtract(BigInteger.ONE);

    private byte[] buffer;
    private int size;

    public BincodeWriter() {
        this(64);
    }

    public BincodeWriter(int initialCapacity) {
        buffer = new byte[Math.max(16, initialCapacity)];
    }

    /** Number of bytes written. */
    public int size() {
        return size;
    }

    /** A copy of the bytes written. */
    public byte[] toByteArray() {
        return Arrays.copyOf(buffer, size);
    }

    public BincodeWriter writeU8(int value) {
        if (value < 0 || value > 0xFF) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "u8 value %d out of range 0..255", value));
        }
        return put((byte) value);
    }

    public BincodeWriter writeU16(int value) {
        if (value < 0 || value > 0xFFFF) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "u16 value %d out of range 0..65535", value));
        }
        return writeVarint(value);
    }

    public BincodeWriter writeU32(long value) {
        if (value < 0 || value > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "u32 value %d out of range 0..4294967295", value));
        }
        return writeVarint(value);
    }

    /** Writes {@code value} read as an unsigned 64-bit number. */
    public BincodeWriter writeU64(long value) {
        return writeVarint(value);
    }

    /** A {@code usize} length or count (encoded as u64). */
    public BincodeWriter writeLength(long length) {
        if (length < 0) {
            throw new IllegalArgumentException("length must be >= 0, got " + length);
        }
        return writeVarint(length);
    }

    public BincodeWriter writeU128(BigInteger value) {
        if (value.signum() < 0 || value.compareTo(U128_MAX) > 0) {
            throw new IllegalArgumentException("u128 value " + value + " out of range 0..2^128-1");
        }
        if (value.bitLength() <= 64) {
            return writeVarint(value.longValue());
        }
        put((byte) Varint.U128);
        putLittleEndian(value.longValue(), 8);
        return putLittleEndian(value.shiftRight(64).longValue(), 8);
    }

    public BincodeWriter writeI8(byte value) {
        return put(value);
    }

    public BincodeWriter writeI16(short value) {
        return writeVarint(zigzag(value) & 0xFFFF);
    }

    public BincodeWriter writeI32(int value) {
        return writeVarint(zigzag(value) & 0xFFFF_FFFFL);
    }

    public BincodeWriter writeI64(long value) {
        return writeVarint(zigzag(value));
    }

    public BincodeWriter writeBool(boolean value) {
        return put((byte) (value ? 1 : 0));
    }

    public BincodeWriter writeF32(float value) {
        return putLittleEndian(Float.floatToRawIntBits(value) & 0xFFFF_FFFFL, 4);
    }

    public BincodeWriter writeF64(double value) {
        return putLittleEndian(Double.doubleToRawLongBits(value), 8);
    }

    /** A Unicode scalar value as its 1 to 4 UTF-8 bytes, as bincode 2 writes a Rust {@code char}. */
    public BincodeWriter writeChar(int codePoint) {
        if (!Character.isValidCodePoint(codePoint) || (codePoint >= 0xD800 && codePoint <= 0xDFFF)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "U+%04X is not a Unicode scalar value (a Rust char)", codePoint));
        }
        return putBytes(new String(Character.toChars(codePoint)).getBytes(StandardCharsets.UTF_8));
    }

    /** Varint length, then the UTF-8 bytes. */
    public BincodeWriter writeString(String value) {
        byte[] utf8 = value.getBytes(StandardCharsets.UTF_8);
        writeLength(utf8.length);
        return putBytes(utf8);
    }

    /** Varint length, then the bytes (a Rust {@code Vec<u8>}). */
    public BincodeWriter writeBytes(byte[] value) {
        writeLength(value.length);
        return putBytes(value);
    }

    /** An enum's variant index (a u32 varint). */
    public BincodeWriter writeVariant(int index) {
        return writeU32(index);
    }

    /** An {@code Option}'s tag: 0 for None, 1 for Some (the value follows). */
    public BincodeWriter writeOptionTag(boolean present) {
        return put((byte) (present ? 1 : 0));
    }

    static long zigzag(long n) {
        return (n << 1) ^ (n >> 63);
    }

    private BincodeWriter writeVarint(long value) {
        if (Long.compareUnsigned(value, Varint.MAX_SINGLE) <= 0) {
            return put((byte) value);
        }
        if (Long.compareUnsigned(value, 0xFFFF) <= 0) {
            put((byte) Varint.U16);
            return putLittleEndian(value, 2);
        }
        if (Long.compareUnsigned(value, 0xFFFF_FFFFL) <= 0) {
            put((byte) Varint.U32);
            return putLittleEndian(value, 4);
        }
        put((byte) Varint.U64);
        return putLittleEndian(value, 8);
    }

    private BincodeWriter putLittleEndian(long value, int bytes) {
        ensure(bytes);
        for (int i = 0; i < bytes; i++) {
            buffer[size++] = (byte) (value >>> (8 * i));
        }
        return this;
    }

    private BincodeWriter put(byte b) {
        ensure(1);
        buffer[size++] = b;
        return this;
    }

    private BincodeWriter putBytes(byte[] bytes) {
        ensure(bytes.length);
        System.arraycopy(bytes, 0, buffer, size, bytes.length);
        size += bytes.length;
        return this;
    }

    private void ensure(int more) {
        if (buffer.length - size < more) {
            long wanted = Math.max((long) buffer.length * 2, (long) size + more);
            if (wanted > Integer.MAX_VALUE - 8) {
                throw new IllegalStateException("bincode output would exceed 2 GiB");
            }
            buffer = Arrays.copyOf(buffer, (int) wanted);
        }
    }
}
