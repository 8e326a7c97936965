package dev.kvbm.manager;

import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.layout.OwnedLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Locale;

/**
 * A tier's block states in host memory that peers read, so that a block read out of this worker's memory without
 * being held can be checked afterwards: a seqlock per block.
 *
 * <p>Record {@code i} describes block {@code i} of the tier in 16 bytes: the sequence hash the block is registered
 * under, then a generation, both unsigned 64-bit little-endian. The generation is even and at least 2 while the
 * block is registered and its bytes hold that hash's KV; it becomes odd when the pool takes the block back for
 * other contents (eviction), before anything can write into it, and even again, with the new hash, when the block
 * is registered again after its bytes landed. A reader reads the record, then the block, then the record again,
 * each after the previous read completed; the bytes are the hash's KV when both records carry that hash and the
 * same even generation. A block the pool took back in between shows a different generation (or an odd one),
 * because the pool's mark is stored before the block can be handed out, and so before any byte of it changes.
 *
 * <p>On the wire a block-state table is a FullyContiguous layout of that one shape ({@link #CONFIG_SHAPE}: one
 * layer, one outer index, a page of one token of two 8-byte elements), registered right after the tier's layout,
 * so that it follows that layout in {@link KvBlockManager#exportBlockSets()} (see
 * {@link KvBlockManager#importBlockSets}).
 */
final class BlockStates {
    /** Bytes per record: the sequence hash and the generation. */
    static final int RECORD_BYTES = 16;

    /** A description of the shape every block-state table has, for messages. */
    static final String CONFIG_SHAPE = "1 layer x 1 outer x 1 token x 2 elements of 8 bytes";

    private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle WORD_HANDLE = ValueLayout.JAVA_LONG.withOrder(ByteOrder.LITTLE_ENDIAN)
            .varHandle();

    private final MemorySegment table;
    private final int blocks;

    /**
     * Over the records of a block-state table.
     *
     * @param layout a host-memory layout of {@link #config(int)}'s shape, freshly allocated (its records zero, so
     *               every block reads as never registered)
     */
    BlockStates(OwnedLayout layout) {
        if (!isStateTable(layout.config()) || !layout.isFullyContiguous()) {
            throw new IllegalArgumentException("not a FullyContiguous block-state table: " + layout.config());
        }
        this.blocks = layout.config().numBlocks();
        this.table = records(layout, 0, blocks);
        table.fill((byte) 0);
    }

    /** {@return the config of a table of {@code blocks} records} */
    static LayoutConfig config(int blocks) {
        return LayoutConfig.builder().numBlocks(blocks).numLayers(1).outerDim(1).pageSize(1).innerDim(2)
                .dtypeWidthBytes(8).build();
    }

    /** {@return whether {@code c} has a block-state table's shape} */
    static boolean isStateTable(LayoutConfig c) {
        return c.numLayers() == 1 && c.outerDim() == 1 && c.pageSize() == 1 && c.innerDim() == 2
                && c.dtypeWidthBytes() == 8;
    }

    /**
     * The records {@code first} to {@code first + count - 1} of a host-memory table, as one segment.
     *
     * @throws IllegalStateException when the table is not host memory, or closed
     */
    static MemorySegment records(OwnedLayout layout, int first, int count) {
        if (!(layout.storage() instanceof HostStorage host)) {
            throw new IllegalStateException("a block-state table lives in host memory, not " + layout.kind());
        }
        long offset = layout.memoryRegion(first, 0, 0).address() - host.region().address();
        return host.segment().asSlice(offset, (long) count * RECORD_BYTES);
    }

    /**
     * Marks block {@code id} as being taken back: from now on its bytes may change. Called by the pool, under its
     * lock, before the block is handed out again. The store is volatile: no later store to the block's memory by
     * this or any thread that learns of the block through the pool can become visible before it.
     */
    void unstable(int id) {
        long at = (long) id * RECORD_BYTES + 8;
        long generation = (long) WORD_HANDLE.get(table, at);
        if ((generation & 1) == 0) {
            WORD_HANDLE.setVolatile(table, at, generation + 1);
        }
    }

    /**
     * Marks block {@code id} as registered under {@code sequenceHash}, its bytes that hash's KV. Called by the pool,
     * under its lock, after the bytes landed (the block was completed and handed to {@code register}). The
     * generation is stored last, with release semantics: a reader that sees it sees the hash and the bytes.
     */
    void stable(int id, long sequenceHash) {
        long at = (long) id * RECORD_BYTES;
        long generation = (long) WORD_HANDLE.get(table, at + 8);
        if ((generation & 1) == 0) {
            generation++; // never marked since it was last stable (first registration): skip an odd value
        }
        WORD_HANDLE.set(table, at, sequenceHash);
        WORD_HANDLE.setRelease(table, at + 8, generation + 1); // after the hash, and after the bytes that landed
    }

    /** {@return the number of records} */
    int blocks() {
        return blocks;
    }

    /** {@return record {@code i} of {@code records}: {hash, generation}} */
    static long[] read(MemorySegment records, int i) {
        return new long[] {records.get(WORD, (long) i * RECORD_BYTES), records.get(WORD, (long) i * RECORD_BYTES + 8)};
    }

    /**
     * Why a block read between two readings of its record cannot be trusted as {@code expected}'s KV, or null when
     * it can.
     *
     * @param expected the sequence hash the reader wants
     * @param before   the record read before the block
     * @param after    the record read after it, or null when only {@code before} was read yet
     */
    static String whyNot(long expected, long[] before, long[] after) {
        long generation = before[1];
        if (generation == 0) {
            return "the peer never registered a block there";
        }
        if ((generation & 1) != 0) {
            return "the peer was replacing the block's contents";
        }
        if (before[0] != expected) {
            return String.format(Locale.ROOT, "the peer holds block %s there, not %s",
                    Long.toUnsignedString(before[0]), Long.toUnsignedString(expected));
        }
        if (after != null && (after[1] != generation || after[0] != expected)) {
            return "the peer took the block back while it was read (evicted or replaced)";
        }
        return null;
    }
}
