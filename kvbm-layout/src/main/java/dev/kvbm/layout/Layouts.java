package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.InvalidMetadataException;
import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemType;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;

import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Builds layouts. {@link #fullyContiguous} and {@link #layerSeparate} lay a config over memory that already exists
 * (this process's or, from a descriptor, another worker's) and allocate nothing; {@link #builder} allocates the
 * backing storage as well.
 */
public final class Layouts {

    private Layouts() {
    }

    /**
     * A FullyContiguous layout over {@code region}, which must hold at least
     * {@code numBlocks × numLayers × outerDim × regionSize} bytes.
     *
     * @param config the shape
     * @param region the bytes the layout addresses
     * @return the layout; it owns nothing
     */
    public static FullyContiguousLayout fullyContiguous(LayoutConfig config, MemoryRegion region) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(region, "region");
        return new FullyContiguousLayout(config, region);
    }

    /**
     * A LayerSeparate layout over exactly {@code numLayers} regions, each holding at least
     * {@code numBlocks × outerDim × regionSize} bytes.
     *
     * @param config          the shape
     * @param blockDimension  where the block index sits in each layer's tensor
     * @param perLayerRegions one region per layer, none overlapping another
     * @return the layout; it owns nothing
     */
    public static LayerSeparateLayout layerSeparate(LayoutConfig config, BlockDimension blockDimension,
                                                    List<MemoryRegion> perLayerRegions) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(blockDimension, "blockDimension");
        Objects.requireNonNull(perLayerRegions, "perLayerRegions");
        return new LayerSeparateLayout(config, blockDimension, perLayerRegions);
    }

    /**
     * A builder that allocates a layout's backing storage through a provider.
     *
     * @param config the shape
     * @return a builder for a FullyContiguous layout unless told otherwise
     */
    public static LayoutBuilder builder(LayoutConfig config) {
        return new LayoutBuilder(Objects.requireNonNull(config, "config"));
    }

    /**
     * Rebuilds the layout a descriptor describes, over the regions it names (another worker's addresses, for a
     * peer's descriptor). Nothing is allocated or touched.
     *
     * <p>The descriptor is untrusted input and is checked first: the version must be {@value LayoutDescriptor#VERSION};
     * a FullyContiguous layout needs exactly one region and a LayerSeparate layout one per layer, each large enough
     * for the config; the memory type must match the location (Dram for System and Pinned, Vram with the same
     * device ordinal for Device, File for Disk), and the agent must be named.
     *
     * @param descriptor a descriptor, possibly a peer's
     * @return the layout with its location and agent metadata
     * @throws InvalidMetadataException naming what is inconsistent and what would be consistent
     */
    public static PhysicalLayout fromDescriptor(LayoutDescriptor descriptor) {
        Objects.requireNonNull(descriptor, "descriptor");
        if (descriptor.version() != LayoutDescriptor.VERSION) {
            throw new InvalidMetadataException(String.format(Locale.ROOT,
                    "unsupported layout descriptor version %s (this reader understands version %d)",
                    Integer.toUnsignedString(descriptor.version()), LayoutDescriptor.VERSION));
        }
        NixlMetadata nixl = descriptor.nixlMetadata();
        if (nixl.agentName().isEmpty()) {
            throw new InvalidMetadataException("layout descriptor names no agent: nixl_metadata.agent_name is empty");
        }
        requireMemTypeMatches(descriptor.location(), nixl);
        LayoutConfig config = descriptor.layoutConfig();
        List<MemoryRegion> regions = descriptor.memoryDescriptors();
        Layout layout;
        try {
            layout = switch (descriptor.layoutTypeDetails()) {
                case LayoutTypeDetails.FullyContiguous fc -> {
                    if (regions.size() != 1) {
                        throw new InvalidMetadataException(String.format(Locale.ROOT,
                                "layout has %d regions, FullyContiguous needs 1", regions.size()));
                    }
                    yield fullyContiguous(config, regions.getFirst());
                }
                case LayoutTypeDetails.LayerSeparate ls -> layerSeparate(config, ls.blockDim(), regions);
            };
        } catch (IllegalArgumentException | ArithmeticException e) {
            throw new InvalidMetadataException("layout descriptor does not fit its config: " + e.getMessage(), e);
        }
        return new PhysicalLayout(layout, descriptor.location(), nixl);
    }

    private static void requireMemTypeMatches(StorageKind location, NixlMetadata nixl) {
        MemType expected = MemType.of(location);
        if (nixl.memType() != expected) {
            throw new InvalidMetadataException(String.format(Locale.ROOT,
                    "layout at %s is registered as %s; memory at %s is registered as %s", location, nixl.memType(),
                    location, expected));
        }
        if (location.type() == StorageKind.Type.DEVICE && nixl.deviceId() != location.id()) {
            throw new InvalidMetadataException(String.format(Locale.ROOT,
                    "layout at %s is registered on device %s; it must be registered on device %d", location,
                    Long.toUnsignedString(nixl.deviceId()), location.id()));
        }
    }
}
