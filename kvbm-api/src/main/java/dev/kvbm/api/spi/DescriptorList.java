package dev.kvbm.api.spi;

import dev.kvbm.api.MemType;

import java.util.List;
import java.util.Objects;

/**
 * Descriptors of one memory type, the unit an {@link Agent} transfers between.
 *
 * @param memType     memory type of every descriptor
 * @param descriptors the ranges, in transfer order
 */
public record DescriptorList(MemType memType, List<AgentDescriptor> descriptors) {

    /** Checks the memory type and copies the list. */
    public DescriptorList {
        Objects.requireNonNull(memType, "memType");
        descriptors = List.copyOf(descriptors);
    }

    /** {@return total bytes described} */
    public long totalBytes() {
        long total = 0;
        for (AgentDescriptor d : descriptors) {
            total = Math.addExact(total, d.region().size());
        }
        return total;
    }
}
