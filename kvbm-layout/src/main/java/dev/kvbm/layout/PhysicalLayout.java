package dev.kvbm.layout;

import dev.kvbm.api.Layout;
import dev.kvbm.api.StorageKind;

import java.util.Objects;

/**
 * A layout together with where its memory lives and which agent registered it, but not the memory itself: what a
 * worker knows about a peer's layout after {@link Layouts#fromDescriptor}, and what it publishes about its own.
 *
 * @param layout       the address math (over remote addresses, for a peer's layout)
 * @param location     where the memory lives
 * @param nixlMetadata the agent that registered the memory
 */
public record PhysicalLayout(Layout layout, StorageKind location, NixlMetadata nixlMetadata) {

    /** Checks every component is present. */
    public PhysicalLayout {
        Objects.requireNonNull(layout, "layout");
        Objects.requireNonNull(location, "location");
        Objects.requireNonNull(nixlMetadata, "nixlMetadata");
    }

    /** {@return the descriptor a peer rebuilds this layout from} */
    public LayoutDescriptor toDescriptor() {
        return LayoutDescriptor.of(layout, location, nixlMetadata);
    }
}
