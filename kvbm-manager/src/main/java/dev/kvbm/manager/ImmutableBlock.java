package dev.kvbm.manager;

import java.util.OptionalLong;

/**
 * A registered block, shared by every request that holds it: its contents do not change while any holder has
 * it. Closing the handle releases this holder's share (idempotent); the last release moves the block to the
 * inactive pool, where it keeps its contents until evicted.
 */
public final class ImmutableBlock extends BlockPool.Handle {
    // 32 bytes with compressed references: the pool and the parent hash are read through the slot, which holds
    // this block for as long as the handle is open. The sequence hash is kept: it names the block after close too.
    private final BlockPool.Slot slot;
    private final long sequenceHash;
    private final boolean duplicate;
    /**
     * The priority this holder gives on release, minus {@link Integer#MAX_VALUE}, so the default is the field's zero
     * and the constructor writes nothing more (a volatile field initialised in the constructor costs a fence for
     * every handle {@code match} creates). Plain: the holder sets it and then releases, or hands the handle over
     * with the usual happens-before, and the pool reads it under its lock.
     */
    private int priorityOffset;

    ImmutableBlock(BlockPool.Slot slot) {
        this.slot = slot;
        this.sequenceHash = slot.sequenceHash;
        this.duplicate = slot.duplicate;
    }

    /** {@return the block id in the tier's layout: where this block's KV lives} */
    public int blockId() {
        return slot.id;
    }

    /** {@return the sequence hash the block is registered under} */
    public long sequenceHash() {
        return sequenceHash;
    }

    /**
     * {@return the sequence hash of the block before it in its sequence, or empty for a first block}
     *
     * @throws IllegalStateException when the handle was closed
     */
    public OptionalLong parentHash() {
        ensureOpen(slot.id);
        return slot.hasParent ? OptionalLong.of(slot.parentHash) : OptionalLong.empty();
    }


    /** {@return the tier (pool) the block lives in, e.g. {@code "G2"}} */
    public String tier() {
        return slot.pool.name();
    }

    BlockPool pool() {
        return slot.pool;
    }

    BlockPool.Slot slot() {
        return slot;
    }

    int releasePriority() {
        return priorityOffset + Integer.MAX_VALUE;
    }


    /** {@return what the block is registered as, for a copy in another tier} */
    BlockMeta meta() {
        return slot.pool.meta(slot);
    }

    /** {@return another share of this block, released on its own} */
    ImmutableBlock share() {
        return slot.pool.share(this, slot);
    }

    /** {@return true for a private duplicate (registered while another block held the hash; never matched)} */
    public boolean isDuplicate() {
        return duplicate;
    }

    /**
     * Sets the eviction priority this holder gives the block when it releases it: lower is evicted earlier
     * (default {@link Integer#MAX_VALUE}; the lowest priority any holder gave wins).
     *
     * @param priority the priority
     * @return this handle
     */
    public ImmutableBlock priority(int priority) {
        ensureOpen(slot.id);
        this.priorityOffset = priority - Integer.MAX_VALUE;
        return this;
    }

    /** Releases this holder's share; idempotent. */
    @Override
    public void close() {
        if (!isClosed()) {
            slot.pool.releaseImmutable(this);
        }
    }

    @Override
    public String toString() {
        return "ImmutableBlock[" + slot.pool.name() + " " + slot.id + ", " + Long.toUnsignedString(sequenceHash)
                + (duplicate ? ", duplicate]" : "]");

    }
}
