package dev.kvbm.layout;

import dev.kvbm.api.Layout;
import dev.kvbm.api.LayoutConfig;
import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;

import java.util.List;
import java.util.Objects;

/**
 * Everything another worker needs to address a layout's bytes: config, location, the registering agent, the
 * backing regions and the layout type (Dynamo's {@code LayoutDescriptor}, field for field).
 *
 * <p>A descriptor is a plain value and may be nonsense when it comes from outside: {@link Layouts#fromDescriptor}
 * checks that it is consistent before anything is built over it.
 *
 * @param version           format version; this code writes and reads {@value #VERSION}
 * @param layoutConfig      the shape
 * @param location          where the memory lives
 * @param nixlMetadata      the agent that registered it
 * @param memoryDescriptors backing regions: one for FullyContiguous, one per layer for LayerSeparate
 * @param layoutTypeDetails the layout type and its parameters
 */
public record LayoutDescriptor(int version, LayoutConfig layoutConfig, StorageKind location,
                               NixlMetadata nixlMetadata, List<MemoryRegion> memoryDescriptors,
                               LayoutTypeDetails layoutTypeDetails) {

    /** The only descriptor version there is. */
    public static final int VERSION = 1;

    /** Checks every component is present and copies the descriptor list. */
    public LayoutDescriptor {
        Objects.requireNonNull(layoutConfig, "layoutConfig");
        Objects.requireNonNull(location, "location");
        Objects.requireNonNull(nixlMetadata, "nixlMetadata");
        memoryDescriptors = List.copyOf(memoryDescriptors);
        Objects.requireNonNull(layoutTypeDetails, "layoutTypeDetails");
    }

    /**
     * The descriptor of {@code layout} (a layout of this module, or an {@link OwnedLayout} of one) living at
     * {@code location} and registered by {@code nixlMetadata}'s agent.
     *
     * @param layout       the layout described
     * @param location     where its storage lives
     * @param nixlMetadata the agent that registered its memory, and how
     * @return the descriptor, at version {@value #VERSION}
     * @throws IllegalArgumentException for a layout type this module does not define
     */
    public static LayoutDescriptor of(Layout layout, StorageKind location, NixlMetadata nixlMetadata) {
        Layout inner = layout instanceof OwnedLayout owned ? owned.layout() : layout;
        LayoutTypeDetails details = switch (inner) {
            case FullyContiguousLayout fc -> new LayoutTypeDetails.FullyContiguous(BlockFormat.OPERATIONAL);
            case LayerSeparateLayout ls -> new LayoutTypeDetails.LayerSeparate(ls.blockDimension());
            default -> throw new IllegalArgumentException(
                    "cannot describe " + inner.getClass().getName()
                            + ": only FullyContiguousLayout and LayerSeparateLayout have a descriptor form");
        };
        return new LayoutDescriptor(VERSION, inner.config(), location, nixlMetadata, inner.regions(), details);
    }
}
