package dev.kvbm.api;

/**
 * Where the block index sits in a per-layer tensor of a layer-separate layout.
 */
public enum BlockDimension {
    /** Per-layer shape [blocks, outer, page, inner]: one block's K and V are adjacent. */
    BLOCK_IS_FIRST_DIM,
    /** Per-layer shape [outer, blocks, page, inner]: all K blocks, then all V blocks. */
    BLOCK_IS_SECOND_DIM
}
