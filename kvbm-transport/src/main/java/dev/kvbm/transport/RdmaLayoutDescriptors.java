package dev.kvbm.transport;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * What one worker publishes so peers can reach its memory: its address, its agent's metadata blob, and the
 * descriptors of the layouts it exports.
 *
 * @param workerAddress the publishing worker
 * @param nixlMetadata  its agent's {@link dev.kvbm.api.spi.Agent#localMetadata()} (a copy is kept and returned)
 * @param layouts       the exported layouts
 */
public record RdmaLayoutDescriptors(WorkerAddress workerAddress, byte[] nixlMetadata,
                                    List<LocalLayoutDescriptor> layouts) {

    /** Checks the address is present and copies the metadata and the layout list. */
    public RdmaLayoutDescriptors {
        Objects.requireNonNull(workerAddress, "workerAddress");
        nixlMetadata = nixlMetadata.clone();
        layouts = List.copyOf(layouts);
    }

    /** {@return the agent's metadata blob (a copy)} */
    @Override
    public byte[] nixlMetadata() {
        return nixlMetadata.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof RdmaLayoutDescriptors r && workerAddress.equals(r.workerAddress)
                && Arrays.equals(nixlMetadata, r.nixlMetadata) && layouts.equals(r.layouts);
    }

    @Override
    public int hashCode() {
        return Objects.hash(workerAddress, Arrays.hashCode(nixlMetadata), layouts);
    }

    @Override
    public String toString() {
        return "RdmaLayoutDescriptors[" + workerAddress + ", agent metadata " + nixlMetadata.length + " bytes, "
                + layouts.size() + " layouts]";
    }
}
