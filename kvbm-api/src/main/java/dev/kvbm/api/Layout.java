package dev.kvbm.api;

import java.util.List;

/**
 * Maps a (block, layer, outer) coordinate of a KV cache to the bytes that hold it.
 *
 * <p>A layout is arithmetic over memory that somebody else owns (or, for a layout built from a remote worker's
 * descriptor, over addresses in another process): it allocates nothing and touches no bytes. Implementations
 * are immutable and safe to share between threads. Implementations live in {@code kvbm-layout}; their address
 * math equals Dynamo v2's, so two workers exchanging descriptors address the same bytes.
 */
public interface Layout {

    /** {@return the shape this layout was built for} */
    LayoutConfig config();

    /**
     * The region holding one page of {@code layer}, half {@code outer}, of {@code block}; its size is always
     * {@link LayoutConfig#regionSize()}.
     *
     * @param block block index, below {@code numBlocks}
     * @param layer layer index, below {@code numLayers}
     * @param outer outer index (0 for keys, 1 for values when {@code outerDim} is 2), below {@code outerDim}
     * @return the region's address and size in this layout's address space
     * @throws IndexOutOfBoundsException when an index is negative or not below its limit; the message names both
     */
    MemoryRegion memoryRegion(int block, int layer, int outer);

    /**
     * Bytes each backing allocation must hold: one entry for a fully contiguous layout, one per layer for a
     * layer-separate one.
     *
     * @return the sizes in bytes, a new array
     */
    long[] requiredAllocations();

    /** {@return true when every block lives in a single allocation laid out [blocks, layers, outer, page, inner]} */
    boolean isFullyContiguous();

    /** {@return the backing regions this layout addresses, one per entry of {@link #requiredAllocations()}} */
    List<MemoryRegion> regions();
}
