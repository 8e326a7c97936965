package dev.kvbm.layout;

import dev.kvbm.api.MemType;
import dev.kvbm.api.StorageKind;

import java.util.Objects;

/**
 * Which agent registered a layout's memory, and as what: the facts a peer needs to name that memory in its own
 * transfer descriptors.
 *
 * @param agentName the agent that registered the regions
 * @param memType   the memory type they were registered as
 * @param deviceId  GPU ordinal for VRAM, 0 for DRAM (an unsigned 64-bit value on the wire)
 */
public record NixlMetadata(String agentName, MemType memType, long deviceId) {

    /** Checks the name and memory type are present. */
    public NixlMetadata {
        Objects.requireNonNull(agentName, "agentName");
        Objects.requireNonNull(memType, "memType");
    }

    /**
     * The metadata an agent gives storage of one kind: its memory type and device ordinal.
     *
     * @param agentName the agent registering the storage
     * @param kind      where the storage lives
     * @return the metadata
     */
    public static NixlMetadata of(String agentName, StorageKind kind) {
        return new NixlMetadata(agentName, MemType.of(kind), kind.type() == StorageKind.Type.DEVICE ? kind.id() : 0);
    }
}
