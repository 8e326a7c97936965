package dev.kvbm.manager;

import com.dynatrace.hash4j.hashing.Hasher64;
import com.dynatrace.hash4j.hashing.Hashing;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.OptionalInt;

/**
 * A request's tokens cut into blocks of {@code pageSize} tokens, with the hashes Dynamo's block manager and its
 * KV-aware router use to name them, so our events and theirs agree:
 * <ul>
 *   <li>{@code blockHash[i]} = XXH3-64 of block {@code i}'s tokens as little-endian u32 bytes, seeded with the salt
 *       hash;</li>
 *   <li>{@code sequenceHash[0] = blockHash[0]}, and {@code sequenceHash[i]} = XXH3-64 of the 16 little-endian bytes
 *       of ({@code sequenceHash[i-1]}, {@code blockHash[i]}), with the same seed. A block's sequence hash therefore
 *       names its whole prefix: two requests share a block exactly when they share every token up to its end.</li>
 * </ul>
 * Only complete blocks have hashes; the tokens after the last complete block form the partial block, which
 * {@link #append} fills. The salt hash separates caches that must not share blocks (another model, LoRA adapter
 * or tenant) — Dynamo's own tests use 1337. Not thread-safe: one request's sequence belongs to one thread at a
 * time.
 */
public final class TokenBlockSequence {
    private final int pageSize;
    private final long saltHash;
    private final Hasher64 hasher;
    private int[] tokens;
    private int tokenCount;
    private long[] blockHashes;
    private long[] sequenceHashes;
    private int completeBlocks;

    private TokenBlockSequence(int pageSize, long saltHash, int capacity) {
        this.pageSize = pageSize;
        this.saltHash = saltHash;
        this.hasher = Hashing.xxh3_64(saltHash);
        this.tokens = new int[Math.max(capacity, pageSize)];
        int blocks = Math.max(1, capacity / pageSize);
        this.blockHashes = new long[blocks];
        this.sequenceHashes = new long[blocks];
    }

    /**
     * A sequence over {@code tokens}, hashed block by block.
     *
     * @param tokens   token ids (each an unsigned 32-bit value); copied
     * @param pageSize tokens per block, at least 1
     * @param saltHash the seed of every hash
     * @return the sequence; its last block is partial unless {@code tokens.length} is a multiple of the page size
     * @throws IllegalArgumentException when {@code pageSize < 1}
     */
    public static TokenBlockSequence of(int[] tokens, int pageSize, long saltHash) {
        Objects.requireNonNull(tokens, "tokens");
        if (pageSize < 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "pageSize %d is not allowed: a block holds at least 1 token", pageSize));
        }
        TokenBlockSequence s = new TokenBlockSequence(pageSize, saltHash, tokens.length);
        for (int t : tokens) {
            s.append(t);
        }
        return s;
    }

    /**
     * The XXH3-64 hash of tokens as little-endian u32 bytes: a block hash when {@code seed} is the salt hash.
     *
     * @param tokens token ids
     * @param seed   the XXH3 seed
     * @return the hash, an unsigned 64-bit value in a {@code long}
     */
    public static long hashTokens(int[] tokens, long seed) {
        Objects.requireNonNull(tokens, "tokens");
        return hashTokens(Hashing.xxh3_64(seed), tokens, 0, tokens.length);
    }

    private static long hashTokens(Hasher64 hasher, int[] tokens, int from, int count) {
        byte[] bytes = new byte[count * 4];
        for (int i = 0; i < count; i++) {
            int t = tokens[from + i];
            bytes[4 * i] = (byte) t;
            bytes[4 * i + 1] = (byte) (t >>> 8);
            bytes[4 * i + 2] = (byte) (t >>> 16);
            bytes[4 * i + 3] = (byte) (t >>> 24);
        }
        return hasher.hashBytesToLong(bytes);
    }

    /**
     * The sequence hash that follows {@code parent} for a block hashed {@code blockHash}.
     *
     * @param parent    the previous block's sequence hash
     * @param blockHash this block's hash
     * @param saltHash  the seed
     * @return XXH3-64 of the 16 little-endian bytes of ({@code parent}, {@code blockHash})
     */
    public static long chain(long parent, long blockHash, long saltHash) {
        return Hashing.xxh3_64(saltHash).hashLongLongToLong(parent, blockHash);
    }

    /**
     * Appends one token; when it fills the partial block, that block is hashed and becomes complete.
     *
     * @param token a token id (an unsigned 32-bit value)
     * @return the index of the block this token completed, or empty when the last block is still partial
     */
    public OptionalInt append(int token) {
        if (tokenCount == tokens.length) {
            tokens = Arrays.copyOf(tokens, Math.max(tokens.length * 2, pageSize));
        }
        tokens[tokenCount++] = token;
        if (tokenCount % pageSize != 0) {
            return OptionalInt.empty();
        }
        int block = completeBlocks;
        if (block == blockHashes.length) {
            blockHashes = Arrays.copyOf(blockHashes, blockHashes.length * 2);
            sequenceHashes = Arrays.copyOf(sequenceHashes, sequenceHashes.length * 2);
        }
        long blockHash = hashTokens(hasher, tokens, block * pageSize, pageSize);
        blockHashes[block] = blockHash;
        sequenceHashes[block] = block == 0 ? blockHash : hasher.hashLongLongToLong(sequenceHashes[block - 1], blockHash);
        completeBlocks++;
        return OptionalInt.of(block);
    }

    /** {@return the block hashes of the complete blocks, in order (a copy)} */
    public long[] blockHashes() {
        return Arrays.copyOf(blockHashes, completeBlocks);
    }

    /** {@return the sequence hashes of the complete blocks, in order (a copy)} */
    public long[] sequenceHashes() {
        return Arrays.copyOf(sequenceHashes, completeBlocks);
    }

    /**
     * {@return the sequence hash of complete block {@code block}}
     *
     * @param block index of a complete block
     * @throws IndexOutOfBoundsException when the block is not complete
     */
    public long sequenceHash(int block) {
        Objects.checkIndex(block, completeBlocks);
        return sequenceHashes[block];
    }

    /**
     * {@return the block hash of complete block {@code block}: XXH3-64 of its tokens alone}
     *
     * @param block index of a complete block
     * @throws IndexOutOfBoundsException when the block is not complete
     */
    public long blockHash(int block) {
        Objects.checkIndex(block, completeBlocks);
        return blockHashes[block];
    }

    /**
     * {@return the tokens of complete block {@code block} (a copy)}
     *
     * @param block index of a complete block
     * @throws IndexOutOfBoundsException when the block is not complete
     */
    public int[] blockTokens(int block) {
        Objects.checkIndex(block, completeBlocks);
        return Arrays.copyOfRange(tokens, block * pageSize, (block + 1) * pageSize);
    }

    /** Copies the tokens of complete block {@code block} into {@code into} from index {@code at} (a page's worth). */
    void copyBlockTokens(int block, int[] into, int at) {
        System.arraycopy(tokens, block * pageSize, into, at, pageSize);
    }

    /**
     * {@return true when complete block {@code block} starts with the {@code count} tokens of {@code prefix} from
     * index {@code from}}
     */
    boolean blockStartsWith(int block, int[] prefix, int from, int count) {
        return Arrays.equals(tokens, block * pageSize, block * pageSize + count, prefix, from, from + count);
    }

    /** {@return every token, complete blocks and the partial one (a copy)} */

    public int[] tokens() {
        return Arrays.copyOf(tokens, tokenCount);
    }

    /** {@return the tokens of the partial block, after the last complete one (a copy)} */
    public int[] partialTokens() {
        return Arrays.copyOfRange(tokens, completeBlocks * pageSize, tokenCount);
    }

    /** {@return the number of complete blocks} */
    public int completeBlocks() {
        return completeBlocks;
    }

    /** {@return the number of tokens} */
    public int tokenCount() {
        return tokenCount;
    }

    /** {@return tokens per block} */
    public int pageSize() {
        return pageSize;
    }

    /** {@return the seed of every hash} */
    public long saltHash() {
        return saltHash;
    }

    @Override
    public String toString() {
        return "TokenBlockSequence[" + tokenCount + " tokens, " + completeBlocks + " complete blocks of " + pageSize
                + ", salt " + Long.toUnsignedString(saltHash) + "]";
    }
}
