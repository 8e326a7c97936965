package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import dev.kvbm.api.spi.Storage;
import dev.kvbm.api.spi.StorageProvider;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Allocates a layout together with its backing storage. A FullyContiguous layout gets one allocation; a
 * LayerSeparate layout gets one allocation cut into per-layer slices whose starts are aligned to
 * {@value #LAYER_ALIGNMENT} bytes (or the config's alignment, if larger), as Dynamo's builder does.
 *
 * <p>Not thread-safe; the layouts it builds are.
 */
public final class LayoutBuilder {

    /** Alignment of each per-layer slice start in an allocated LayerSeparate layout. */
    public static final int LAYER_ALIGNMENT = 512;

    private final LayoutConfig config;
    private BlockDimension blockDimension; // null: FullyContiguous

    LayoutBuilder(LayoutConfig config) {
        this.config = config;
    }

    /**
     * Builds a FullyContiguous layout (the default).
     *
     * @return this builder
     */
    public LayoutBuilder fullyContiguous() {
        this.blockDimension = null;
        return this;
    }

    /**
     * Builds a LayerSeparate layout: one region per layer.
     *
     * @param blockDimension where the block index sits in each layer's tensor
     * @return this builder
     */
    public LayoutBuilder layerSeparate(BlockDimension blockDimension) {
        this.blockDimension = Objects.requireNonNull(blockDimension, "blockDimension");
        return this;
    }

    /**
     * Allocates storage of {@code kind} from {@code provider} and lays the layout over it. The allocation starts
     * at a multiple of the larger of the config's alignment and the provider's default alignment. The returned
     * layout owns the storage; closing it frees the memory.
     *
     * @param provider allocates the storage
     * @param kind     where the storage lives
     * @return the layout, owning its storage
     */
    public OwnedLayout allocate(StorageProvider provider, StorageKind kind) {
        Objects.requireNonNull(provider, "provider");
        Objects.requireNonNull(kind, "kind");
        long alignment = Math.max(config.alignment(), provider.defaultAlignment());
        if (blockDimension == null) {
            long size = config.totalSize();
            Storage storage = provider.allocate(kind, size, alignment);
            return own(storage, () -> Layouts.fullyContiguous(config, storage.region().slice(0, size)));
        }
        long perLayer = LayerSeparateLayout.perLayerSize(config);
        long sliceAlignment = Math.max(LAYER_ALIGNMENT, config.alignment());
        long stride = alignUp(perLayer, sliceAlignment);
        long total = Math.addExact(Math.multiplyExact(stride, config.numLayers() - 1L), perLayer);
        Storage storage = provider.allocate(kind, total, Math.max(alignment, sliceAlignment));
        return own(storage, () -> {
            MemoryRegion whole = storage.region();
            List<MemoryRegion> slices = new ArrayList<>(config.numLayers());
            for (int layer = 0; layer < config.numLayers(); layer++) {
                slices.add(whole.slice(layer * stride, perLayer));
            }
            return Layouts.layerSeparate(config, blockDimension, slices);
        });
    }

    private static OwnedLayout own(Storage storage, java.util.function.Supplier<dev.kvbm.api.Layout> layout) {
        try {
            return new OwnedLayout(layout.get(), storage);
        } catch (RuntimeException | Error e) {
            storage.close();
            throw e;
        }
    }

    static long alignUp(long value, long alignment) {
        long mask = alignment - 1;
        if ((alignment & mask) != 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "alignment %d is not a power of two", alignment));
        }
        return Math.addExact(value, mask) & ~mask;
    }
}
