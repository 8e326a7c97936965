package dev.kvbm.layout;

import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.HostStorage;
import dev.kvbm.api.spi.Storage;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A layout together with the storage that backs it; closing the layout frees the storage (idempotently).
 *
 * <p>Address lookups keep working after close (they are arithmetic), but the storage refuses access, so nothing
 * reads freed memory. Thread-safe.
 */
public final class OwnedLayout implements Layout, AutoCloseable {
    private final Layout layout;
    private final Storage storage;

    OwnedLayout(Layout layout, Storage storage) {
        this.layout = layout;
        this.storage = storage;
    }

    /** {@return the address math, without ownership} */
    public Layout layout() {
        return layout;
    }

    /** {@return the backing storage} */
    public Storage storage() {
        return storage;
    }

    /** {@return where the storage lives} */
    public StorageKind kind() {
        return storage.kind();
    }

    @Override
    public LayoutConfig config() {
        return layout.config();
    }

    @Override
    public MemoryRegion memoryRegion(int block, int layer, int outer) {
        return layout.memoryRegion(block, layer, outer);
    }

    @Override
    public long[] requiredAllocations() {
        return layout.requiredAllocations();
    }

    @Override
    public boolean isFullyContiguous() {
        return layout.isFullyContiguous();
    }

    @Override
    public List<MemoryRegion> regions() {
        return layout.regions();
    }

    /**
     * The bytes of one (block, layer, outer) region, as a slice of the storage's segment: host memory only. The
     * slice lives as long as the storage; an access after close throws {@link IllegalStateException}.
     *
     * @param block block index, below {@code numBlocks}
     * @param layer layer index, below {@code numLayers}
     * @param outer outer index, below {@code outerDim}
     * @return the region's bytes
     * @throws IllegalStateException     when the storage is not host memory (Device memory and files are reached
     *                                   through a transfer) or is closed
     * @throws IndexOutOfBoundsException when a coordinate is out of range
     */
    public MemorySegment segment(int block, int layer, int outer) {
        return slice(layout.memoryRegion(block, layer, outer));
    }

    /**
     * All bytes of one block, as a slice of the storage's segment: in a FullyContiguous layout a block is one
     * contiguous range ({@code numLayers × outerDim × regionSize} bytes).
     *
     * @param block block index, below {@code numBlocks}
     * @return the block's bytes
     * @throws IllegalStateException     when the layout is not FullyContiguous (use {@link #segment(int, int, int)}
     *                                   per region), the storage is not host memory, or it is closed
     * @throws IndexOutOfBoundsException when {@code block} is out of range
     */
    public MemorySegment blockSegment(int block) {
        if (!(layout instanceof FullyContiguousLayout fc)) {
            throw new IllegalStateException("a block of a LayerSeparate layout is one region per layer and outer"
                    + " index, not one range; use segment(block, layer, outer)");
        }
        return slice(fc.blockRegion(block));
    }

    private MemorySegment slice(MemoryRegion region) {
        if (!(storage instanceof HostStorage host)) {
            throw new IllegalStateException("the layout's storage is " + storage.kind() + ", not host memory; its"
                    + " bytes are reached through a transfer into a System or Pinned layout");
        }
        return host.segment().asSlice(region.address() - host.region().address(), region.size());
    }

    /**
     * This layout's descriptor for peers: its storage kind, and the memory type and device that {@code agentName}
     * registers the storage as.
     *
     * @param agentName the agent that registers (or registered) the storage
     * @return the descriptor
     */
    public LayoutDescriptor toDescriptor(String agentName) {
        return LayoutDescriptor.of(layout, kind(), NixlMetadata.of(agentName, kind()));
    }

    /** Frees the storage; idempotent. */
    @Override
    public void close() {
        storage.close();
    }

    @Override
    public String toString() {
        return "OwnedLayout[" + layout + " on " + storage.kind() + "]";
    }
}
