package dev.kvbm.manager;

import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;

/**
 * A block a request holds and fills: Reset → Partial (some tokens) → Complete (a whole page, with its hashes).
 * {@link BlockPool#register} turns a complete block into an {@link ImmutableBlock}; {@link #close()} without
 * registering gives it back empty. Not thread-safe: one request fills it.
 */
public final class MutableBlock extends BlockPool.Handle {
    private final BlockPool pool;
    private final BlockPool.Slot slot;

    MutableBlock(BlockPool pool, BlockPool.Slot slot) {
        this.pool = pool;
        this.slot = slot;
    }

    /** {@return the block id in the tier's layout: where the request writes this block's KV} */
    public int blockId() {
        return slot.id;
    }

    BlockPool.Slot slot() {
        return slot;
    }

    /** {@return the block's state} */
    public BlockPool.State state() {
        ensureOpen(slot.id);
        return slot.state;
    }

    /** {@return the tokens the block holds so far (a copy)} */
    public int[] tokens() {
        ensureOpen(slot.id);
        return BlockPool.copyTokens(slot);
    }

    /**
     * Adds tokens; the block becomes Partial. A block whose page is full still needs {@link #complete} for its
     * hashes.
     *
     * @param tokens token ids to add
     * @return this block
     * @throws IllegalStateException when the tokens do not fit in the page or the block is complete
     */
    public MutableBlock appendTokens(int... tokens) {
        ensureOpen(slot.id);
        BlockPool p = owner();
        if (slot.state == BlockPool.State.COMPLETE) {
            throw new IllegalStateException("block " + slot.id + " is complete; allocate another for more tokens");
        }
        if (slot.tokenCount + tokens.length > p.pageSize()) {
            throw new IllegalStateException(String.format(Locale.ROOT,
                    "block %d holds %d tokens; %d more exceed its page of %d", slot.id, slot.tokenCount,
                    tokens.length, p.pageSize()));
        }
        System.arraycopy(tokens, 0, slot.tokens, slot.tokenBase + slot.tokenCount, tokens.length);
        slot.tokenCount += tokens.length;
        slot.state = slot.tokenCount == 0 ? BlockPool.State.RESET : BlockPool.State.PARTIAL;
        return this;
    }

    /**
     * Completes the block as block {@code index} of {@code sequence}: its tokens and hashes. Tokens appended
     * before must be the start of that block's tokens.
     *
     * @param sequence the request's tokens, with the same page size as the pool
     * @param index    a complete block of the sequence
     * @return this block, now Complete
     * @throws IllegalArgumentException when the page sizes differ, the block is not complete in the sequence, or
     *                                  the tokens appended so far differ from the sequence's
     */
    public MutableBlock complete(TokenBlockSequence sequence, int index) {
        Objects.requireNonNull(sequence, "sequence");
        ensureOpen(slot.id);
        BlockPool p = owner();
        if (sequence.pageSize() != p.pageSize()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "the sequence has pages of %d tokens but the pool's blocks hold %d", sequence.pageSize(),
                    p.pageSize()));
        }
        if (index < 0 || index >= sequence.completeBlocks()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "block %d of the sequence is not complete (it has %d complete blocks)", index,
                    sequence.completeBlocks()));
        }
        if (slot.tokenCount > 0 && !sequence.blockStartsWith(index, slot.tokens, slot.tokenBase, slot.tokenCount)) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "block %d already holds tokens %s, which are not the start of the sequence's block %d",
                    slot.id, Arrays.toString(BlockPool.copyTokens(slot)), index));
        }
        sequence.copyBlockTokens(index, slot.tokens, slot.tokenBase);
        slot.tokenCount = p.pageSize();

        slot.sequenceHash = sequence.sequenceHash(index);
        slot.blockHash = sequence.blockHash(index);
        slot.hasParent = index > 0;
        slot.parentHash = index > 0 ? sequence.sequenceHash(index - 1) : 0;
        slot.position = index;
        slot.state = BlockPool.State.COMPLETE;
        return this;
    }

    /** Completes the block as a copy of a block registered in another tier (same tokens and hashes). */
    MutableBlock fill(BlockMeta meta) {
        ensureOpen(slot.id);
        if (meta.tokens().length != pool.pageSize()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "a block of %d tokens cannot fill block %d of pool %s, whose pages hold %d", meta.tokens().length,
                    slot.id, pool.name(), pool.pageSize()));
        }
        BlockPool.setTokens(slot, meta.tokens());
        slot.sequenceHash = meta.sequenceHash();
        slot.blockHash = meta.blockHash();
        slot.hasParent = meta.hasParent();
        slot.parentHash = meta.parentHash();
        slot.position = meta.position();
        slot.state = BlockPool.State.COMPLETE;
        return this;
    }

    private BlockPool owner() {

        return pool;
    }

    /** Throws unless {@code by} may register this block now; the caller holds the pool's lock. */
    void checkRegistrable(BlockPool by) {
        if (by != pool) {
            throw new IllegalArgumentException("block " + slot.id + " belongs to another pool");
        }
        if (isClosed()) {
            throw new IllegalStateException("block " + slot.id + " was released or registered already");
        }
        if (slot.state != BlockPool.State.COMPLETE) {
            throw new IllegalStateException(String.format(Locale.ROOT,
                    "block %d holds %d of %d tokens and has no sequence hash; complete it before registering",
                    slot.id, slot.tokenCount, pool.pageSize()));
        }
    }

    /** Marks this handle used up by {@code register}, after {@link #checkRegistrable}; returns its slot. */
    BlockPool.Slot consumeLocked() {
        if (!closeLocked()) {
            throw new IllegalStateException("block " + slot.id + " was released or registered already");
        }
        return slot;
    }

    /** Gives the block back empty, unless it was registered; idempotent. */
    @Override
    public void close() {
        if (!isClosed()) {
            pool.releaseMutable(this);
        }
    }

    @Override
    public String toString() {
        return "MutableBlock[" + slot.id + ", " + slot.state + "]";
    }
}
