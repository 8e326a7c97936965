package dev.kvbm.manager;

import dev.kvbm.transport.LayoutHandle;

import java.util.Locale;

/**
 * A peer's block did not hold the expected KV while it was read: the peer had evicted or replaced it, or was
 * doing so. Reported by {@link KvBlockManager#pull(RemoteBlocks, TokenBlockSequence, int)} in
 * {@link PullResult#failures()}; the block was not registered, and the engine recomputes it.
 */
public final class RemoteBlockChangedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient LayoutHandle blockSet;
    private final int blockId;

    /**
     * A changed block.
     *
     * @param blockSet the peer's block set
     * @param blockId  the block's id in it
     * @param why      what the block's state at the peer showed
     */
    public RemoteBlockChangedException(LayoutHandle blockSet, int blockId, String why) {
        super(String.format(Locale.ROOT, "block %d of %s: %s", blockId, blockSet, why), null, false, false);
        this.blockSet = blockSet;
        this.blockId = blockId;
    }

    /** {@return the peer's block set} */
    public LayoutHandle blockSet() {
        return blockSet;
    }

    /** {@return the block's id in the peer's block set} */
    public int blockId() {
        return blockId;
    }
}
