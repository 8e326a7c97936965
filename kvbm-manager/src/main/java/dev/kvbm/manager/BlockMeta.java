package dev.kvbm.manager;

/**
 * What a registered block is, apart from where it lives: enough to register a copy of it in another tier.
 *
 * @param blockId      the block's id in its own tier
 * @param sequenceHash its sequence hash
 * @param hasParent    whether a block precedes it in its sequence
 * @param parentHash   that block's sequence hash (0 when none)
 * @param position     its index in its sequence (0 for a first block)
 * @param tokens       its tokens (a copy)
 */
record BlockMeta(int blockId, long sequenceHash, long blockHash, boolean hasParent, long parentHash, int position,
                 int[] tokens) {
}
