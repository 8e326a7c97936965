package dev.kvbm.api.spi;

import dev.kvbm.api.MemoryRegion;

import java.util.Objects;

/**
 * One copy of a batch: the bytes of {@code source} go to {@code destination}. Both regions are in the address
 * space of their batch's storages.
 *
 * @param source      bytes to read
 * @param destination bytes to write, the same size
 */
public record RegionPair(MemoryRegion source, MemoryRegion destination) {

    public RegionPair {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(destination, "destination");
    }
}
