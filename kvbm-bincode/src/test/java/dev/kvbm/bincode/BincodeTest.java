package dev.kvbm.bincode;

import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.util.HexFormat;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BincodeTest {
    private static final HexFormat HEX = HexFormat.of();

    private static String hex(BincodeWriter w) {
        return HEX.formatHex(w.toByteArray());
    }

    private static BincodeReader reader(String hex) {
        return new BincodeReader(HEX.parseHex(hex), true);
    }

    @Test
    void testsRunInTheNamedModule() {
        assertThat(getClass().getModule().getName()).isEqualTo("dev.kvbm.bincode");
    }

    @Test
    void unsignedVarintsUseTheShortestFormAtEveryBoundary() {
        assertThat(hex(new BincodeWriter().writeU64(0))).isEqualTo("00");
        assertThat(hex(new BincodeWriter().writeU64(250))).isEqualTo("fa");
        assertThat(hex(new BincodeWriter().writeU64(251))).isEqualTo("fbfb00");
        assertThat(hex(new BincodeWriter().writeU16(65535))).isEqualTo("fbffff");
        assertThat(hex(new BincodeWriter().writeU32(65536))).isEqualTo("fc00000100");
        assertThat(hex(new BincodeWriter().writeU32(0xFFFF_FFFFL))).isEqualTo("fcffffffff");
        assertThat(hex(new BincodeWriter().writeU64(1L << 32))).isEqualTo("fd0000000001000000");
        assertThat(hex(new BincodeWriter().writeU64(-1))).isEqualTo("fdffffffffffffffff");
        assertThat(hex(new BincodeWriter().writeU128(BigInteger.ONE.shiftLeft(64)))).isEqualTo(
                "fe00000000000000000100000000000000");
        assertThat(hex(new BincodeWriter().writeU8(255))).isEqualTo("ff");
    }

    @Test
    void signedValuesAreZigzagged() {
        assertThat(hex(new BincodeWriter().writeI64(0))).isEqualTo("00");
        assertThat(hex(new BincodeWriter().writeI64(-1))).isEqualTo("01");
        assertThat(hex(new BincodeWriter().writeI64(1))).isEqualTo("02");
        assertThat(hex(new BincodeWriter().writeI32(-125))).isEqualTo("f9");
        assertThat(hex(new BincodeWriter().writeI32(-126))).isEqualTo("fbfb00"); // zigzag 251 needs the marker
        assertThat(hex(new BincodeWriter().writeI16(Short.MIN_VALUE))).isEqualTo("fbffff");
        assertThat(hex(new BincodeWriter().writeI64(Long.MIN_VALUE))).isEqualTo("fdffffffffffffffff");
        assertThat(hex(new BincodeWriter().writeI8((byte) -1))).isEqualTo("ff");
    }

    @Test
    void stringsCharsBytesFloatsAndBools() {
        assertThat(hex(new BincodeWriter().writeString("test"))).isEqualTo("0474657374");
        assertThat(hex(new BincodeWriter().writeChar('a'))).isEqualTo("61");
        assertThat(hex(new BincodeWriter().writeChar(0x1F600))).isEqualTo("f09f9880");
        assertThat(hex(new BincodeWriter().writeBytes(new byte[] {1, 2, 3}))).isEqualTo("03010203");
        assertThat(hex(new BincodeWriter().writeF32(1.0f))).isEqualTo("0000803f");
        assertThat(hex(new BincodeWriter().writeF64(-2.0))).isEqualTo("00000000000000c0");
        assertThat(hex(new BincodeWriter().writeBool(true).writeBool(false))).isEqualTo("0100");
        assertThatThrownBy(() -> new BincodeWriter().writeChar(0xD800)).hasMessageContaining("not a Unicode scalar");
        assertThatThrownBy(() -> new BincodeWriter().writeU16(65536)).hasMessageContaining("out of range");
    }

    @Test
    void edgeValuesRoundTripForEveryType() {
        long[] edges = {0, 1, 250, 251, 65535, 65536, 0xFFFF_FFFFL, 1L << 32, Long.MAX_VALUE, -1};
        for (long v : edges) {
            BincodeWriter w = new BincodeWriter().writeU64(v).writeI64(v).writeI32((int) v).writeI16((short) v)
                    .writeI8((byte) v).writeU8((int) (v & 0xFF)).writeU16((int) (v & 0xFFFF))
                    .writeU32(v & 0xFFFF_FFFFL).writeF64(Double.longBitsToDouble(v)).writeF32(Float.intBitsToFloat((int) v))
                    .writeU128(new BigInteger(Long.toUnsignedString(v)).shiftLeft(63));
            BincodeReader r = new BincodeReader(w.toByteArray(), true);
            assertThat(r.readU64()).isEqualTo(v);
            assertThat(r.readI64()).isEqualTo(v);
            assertThat(r.readI32()).isEqualTo((int) v);
            assertThat(r.readI16()).isEqualTo((short) v);
            assertThat(r.readI8()).isEqualTo((byte) v);
            assertThat(r.readU8()).isEqualTo((int) (v & 0xFF));
            assertThat(r.readU16()).isEqualTo((int) (v & 0xFFFF));
            assertThat(r.readU32()).isEqualTo(v & 0xFFFF_FFFFL);
            assertThat(Double.doubleToRawLongBits(r.readF64())).isEqualTo(v);
            assertThat(Float.floatToRawIntBits(r.readF32())).isEqualTo((int) v);
            assertThat(r.readU128()).isEqualTo(new BigInteger(Long.toUnsignedString(v)).shiftLeft(63));
            r.finish();
        }
    }

    @Test
    void randomValuesRoundTrip() {
        Random random = new Random(20261121);
        for (int i = 0; i < 20_000; i++) {
            long v = switch (i % 4) {
                case 0 -> random.nextLong();
                case 1 -> random.nextInt(300);
                case 2 -> random.nextInt(70_000);
                default -> random.nextLong() >>> random.nextInt(64);
            };
            int cp = random.nextInt(0x110000);
            if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 'x';
            }
            String s = new String(Character.toChars(cp)) + v;
            BincodeWriter w = new BincodeWriter().writeU64(v).writeI64(v).writeChar(cp).writeString(s)
                    .writeBool(v % 2 == 0).writeLength(v & 0x7FFF);
            BincodeReader r = new BincodeReader(w.toByteArray());
            assertThat(r.readU64()).isEqualTo(v);
            assertThat(r.readI64()).isEqualTo(v);
            assertThat(r.readChar()).isEqualTo(cp);
            assertThat(r.readString()).isEqualTo(s);
            assertThat(r.readBool()).isEqualTo(v % 2 == 0);
            // A length is checked against what remains: nothing follows, so only 0 can pass.
            if ((v & 0x7FFF) == 0) {
                assertThat(r.readLength()).isZero();
            } else {
                assertThatThrownBy(r::readLength).isInstanceOf(BincodeException.class);
            }
        }
    }

    @Test
    void acceptsWiderMarkersThanNeededAsBincodeDoes() {
        assertThat(reader("fb0500").readU32()).isEqualTo(5);
        assertThat(reader("fd0500000000000000").readU64()).isEqualTo(5);
    }

    @Test
    void rejectsWhatBincodeRejectsNamingTheOffset() {
        assertThatThrownBy(() -> reader("fc00000100").readU16()).isInstanceOf(BincodeException.class)
                .hasMessage("u16 has a 32-bit varint marker (252); a u16 holds at most 16 bits (at byte offset 0)");
        assertThatThrownBy(() -> reader("fe000000000000000000000000000000ff").readU64())
                .hasMessageContaining("128-bit varint marker");
        assertThatThrownBy(() -> reader("ff").readU32()).hasMessageContaining("255 is not a varint marker");
        BincodeReader bool = reader("0102");
        assertThat(bool.readBool()).isTrue();
        assertThatThrownBy(bool::readBool).hasMessage("bool byte 2 is neither 0 nor 1 (at byte offset 1)");
        assertThatThrownBy(() -> reader("02c328").readString()).hasMessageContaining("invalid UTF-8 in string");
        assertThatThrownBy(() -> reader("eda080").readChar()).hasMessageContaining("invalid UTF-8");
        assertThatThrownBy(() -> reader("80").readChar()).hasMessageContaining("cannot start a UTF-8 char");
        assertThatThrownBy(() -> reader("03").readVariant(2, "BlockDimension"))
                .hasMessage("BlockDimension variant index 3 out of range: BlockDimension has 2 variants (at byte offset 0)");
        assertThatThrownBy(() -> reader("02").readOptionTag()).hasMessageContaining("Option tag 2");
        assertThatThrownBy(() -> reader("fdffffffffffffff7f").readBytes())
                .hasMessageContaining("length 9223372036854775807 exceeds the 0 bytes remaining");
        assertThatThrownBy(() -> reader("fb").readU16()).hasMessageContaining("u16 needs 2 bytes but only 0 remain");
        BincodeReader trailing = reader("0500");
        trailing.readU8();
        assertThatThrownBy(trailing::finish).hasMessage("1 trailing bytes after the value (at byte offset 1)");
        BincodeReader lenient = new BincodeReader(HEX.parseHex("0500"));
        lenient.readU8();
        lenient.finish();
        assertThat(lenient.remaining()).isEqualTo(1);
    }

    /** Dynamo's test_metadata_pack_unpack fixture, read field by field with the primitives alone. */
    @Test
    void readsDynamosFixtureFieldByField() {
        BincodeReader r = reader("640a776f726b65725f31303005010203040501fe6400000000000000010000000000000001020202"
                + "0408010200000474657374000001fb0010fb00100000");
        assertThat(r.readU64()).isEqualTo(100);                       // worker_id
        assertThat(r.readString()).isEqualTo("worker_100");            // nixl_agent_name
        assertThat(r.readBytes()).containsExactly(1, 2, 3, 4, 5);      // nixl_metadata
        assertThat(r.readLength()).isEqualTo(1);                       // one layout
        assertThat(r.readU128()).isEqualTo(BigInteger.ONE.shiftLeft(64).add(BigInteger.valueOf(100))); // handle
        assertThat(r.readU32()).isEqualTo(1);                          // version
        long[] config = new long[7];
        for (int i = 0; i < 7; i++) {
            config[i] = r.readU64();
        }
        assertThat(config).containsExactly(2, 2, 2, 4, 8, 1, 2);
        assertThat(r.readVariant(3, "InnerShape")).isZero();
        assertThat(r.readVariant(4, "StorageKind")).isZero();          // System
        assertThat(r.readString()).isEqualTo("test");
        assertThat(r.readVariant(6, "MemType")).isZero();              // Dram
        assertThat(r.readU64()).isZero();                              // device_id
        assertThat(r.readLength()).isEqualTo(1);
        assertThat(r.readU64()).isEqualTo(0x1000);
        assertThat(r.readU64()).isEqualTo(4096);
        assertThat(r.readVariant(2, "LayoutTypeDetails")).isZero();
        assertThat(r.readVariant(1, "BlockFormat")).isZero();
        r.finish();
    }
}
