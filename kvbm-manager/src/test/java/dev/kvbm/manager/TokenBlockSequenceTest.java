package dev.kvbm.manager;

import org.junit.jupiter.api.Test;

import java.util.OptionalInt;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Token hashes against values computed independently of this code: Dynamo's own test vectors for its
 * {@code lib/tokens} (salt 1337), and XXH3-64 reference values (seed 0) from the xxHash project and LLVM's
 * xxhash tests, fed through {@link TokenBlockSequence#hashTokens} as the little-endian bytes of tokens.
 */
class TokenBlockSequenceTest {
    private static final long DYNAMO_TEST_SALT = 1337;

    @Test
    void dynamosOwnTestVectors() {
        TokenBlockSequence s = TokenBlockSequence.of(new int[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 4, DYNAMO_TEST_SALT);
        assertThat(s.completeBlocks()).isEqualTo(2);
        assertThat(s.blockHashes()).containsExactly(Long.parseUnsignedLong("14643705804678351452"),
                Long.parseUnsignedLong("16777012769546811212"));
        assertThat(s.sequenceHashes()).containsExactly(Long.parseUnsignedLong("14643705804678351452"),
                Long.parseUnsignedLong("4945711292740353085"));
        assertThat(s.partialTokens()).containsExactly(9);
        assertThat(TokenBlockSequence.hashTokens(new int[] {1, 2, 3, 4}, DYNAMO_TEST_SALT))
                .isEqualTo(Long.parseUnsignedLong("14643705804678351452"));
    }

    @Test
    void xxh3ReferenceVectors() {
        // xxHash's published anchor: XXH3_64bits of no bytes, seed 0.
        assertThat(TokenBlockSequence.hashTokens(new int[0], 0)).isEqualTo(0x2D06800538D394C2L);
        // LLVM's xxhash unit test: bytes from xorshift64 starting at 1, XXH3_64bits(first n bytes), seed 0.
        byte[] bytes = new byte[16];
        long x = 1;
        for (int i = 0; i < bytes.length; i++) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            bytes[i] = (byte) x;
        }
        assertThat(TokenBlockSequence.hashTokens(tokensOf(bytes, 4), 0)).isEqualTo(0xbf65290914e80242L);
        assertThat(TokenBlockSequence.hashTokens(tokensOf(bytes, 8), 0)).isEqualTo(0xabc1413da6cd0209L);
        assertThat(TokenBlockSequence.hashTokens(tokensOf(bytes, 16), 0)).isEqualTo(0x7e46916754d7c9b8L);
    }

    private static int[] tokensOf(byte[] bytes, int n) {
        int[] tokens = new int[n / 4];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (bytes[4 * i] & 0xFF) | (bytes[4 * i + 1] & 0xFF) << 8 | (bytes[4 * i + 2] & 0xFF) << 16
                    | (bytes[4 * i + 3] & 0xFF) << 24;
        }
        return tokens;
    }

    @Test
    void appendingCompletesBlocksExactlyAsBuildingAtOnceDoes() {
        int[] tokens = IntStream.range(0, 100).map(i -> i * 7919 + 3).toArray();
        TokenBlockSequence whole = TokenBlockSequence.of(tokens, 16, 42);
        TokenBlockSequence grown = TokenBlockSequence.of(new int[0], 16, 42);
        for (int i = 0; i < tokens.length; i++) {
            OptionalInt completed = grown.append(tokens[i]);
            assertThat(completed.isPresent()).as("token %d", i).isEqualTo((i + 1) % 16 == 0);
        }
        assertThat(grown.sequenceHashes()).containsExactly(whole.sequenceHashes());
        assertThat(grown.blockHashes()).containsExactly(whole.blockHashes());
        assertThat(whole.completeBlocks()).isEqualTo(6);
        assertThat(whole.partialTokens()).hasSize(4);
        assertThat(whole.blockTokens(5)).containsExactly(IntStream.range(80, 96).map(i -> i * 7919 + 3).toArray());
    }

    @Test
    void aSequenceHashNamesTheWholePrefixAndTheSaltSeparatesCaches() {
        int[] a = {1, 2, 3, 4, 5, 6, 7, 8};
        int[] b = {9, 2, 3, 4, 5, 6, 7, 8}; // same second block, different first block
        TokenBlockSequence sa = TokenBlockSequence.of(a, 4, 7);
        TokenBlockSequence sb = TokenBlockSequence.of(b, 4, 7);
        assertThat(sa.blockHashes()[1]).isEqualTo(sb.blockHashes()[1]);
        assertThat(sa.sequenceHashes()[1]).isNotEqualTo(sb.sequenceHashes()[1]);
        assertThat(TokenBlockSequence.chain(sa.sequenceHashes()[0], sa.blockHashes()[1], 7))
                .isEqualTo(sa.sequenceHashes()[1]);
        assertThat(TokenBlockSequence.of(a, 4, 8).sequenceHashes()[0]).isNotEqualTo(sa.sequenceHashes()[0]);
        // Token ids are unsigned 32-bit values: the high bit is a token like any other.
        assertThat(TokenBlockSequence.hashTokens(new int[] {0xFFFFFFFF}, 0))
                .isNotEqualTo(TokenBlockSequence.hashTokens(new int[] {0x7FFFFFFF}, 0));
    }

    @Test
    void badArgumentsAreNamed() {
        assertThatThrownBy(() -> TokenBlockSequence.of(new int[] {1}, 0, 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("pageSize 0");
        assertThatThrownBy(() -> TokenBlockSequence.of(null, 4, 0)).isInstanceOf(NullPointerException.class)
                .hasMessage("tokens");
        assertThatThrownBy(() -> TokenBlockSequence.of(new int[] {1, 2}, 4, 0).sequenceHash(0))
                .isInstanceOf(IndexOutOfBoundsException.class);
    }
}
