package dev.kvbm.api.spi;

import dev.kvbm.api.MemoryRegion;

import java.util.Objects;

/**
 * One entry of a descriptor list: a byte range on a device (NIXL's {@code (addr, len, devId)}).
 *
 * @param region   the bytes
 * @param deviceId GPU ordinal for VRAM, file descriptor for FILE, 0 for DRAM
 */
public record AgentDescriptor(MemoryRegion region, long deviceId) {

    /** Checks that the region is given. */
    public AgentDescriptor {
        Objects.requireNonNull(region, "region");
    }
}
