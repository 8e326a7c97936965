package dev.kvbm.transport;

import dev.kvbm.layout.LayoutDescriptor;

import java.util.Objects;

/**
 * A layout's descriptor with the handle its worker assigned.
 *
 * @param handle the handle peers use to name the layout
 * @param layout the descriptor peers rebuild it from
 */
public record LocalLayoutDescriptor(LayoutHandle handle, LayoutDescriptor layout) {

    /** Checks both components are present. */
    public LocalLayoutDescriptor {
        Objects.requireNonNull(handle, "handle");
        Objects.requireNonNull(layout, "layout");
    }
}
