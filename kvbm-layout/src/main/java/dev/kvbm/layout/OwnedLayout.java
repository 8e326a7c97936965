package dev.kvbm.layout;

import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Storage;

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

    /** The address math, without ownership. */
    public Layout layout() {
        return layout;
    }

    /** The backing storage. */
    public Storage storage() {
        return storage;
    }

    /** Where the storage lives. */
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
     * This layout's descriptor for peers: its storage kind, and the memory type and device that {@code agentName}
     * registers the storage as.
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
