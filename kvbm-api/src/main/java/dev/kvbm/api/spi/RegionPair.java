package dev.kvbm.api.spi;

import dev.kvbm.api.MemoryRegion;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One copy of a batch: the bytes of {@code source} go to {@code destination}. Both regions are in the address
 * space of their batch's storages.
 *
 * @param source      bytes to read
 * @param destination bytes to write, the same size
 */
public record RegionPair(MemoryRegion source, MemoryRegion destination) {

    /** Checks that both sides are given. */
    public RegionPair {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(destination, "destination");
    }

    /**
     * The same copies with neighbours merged: two pairs whose sources and destinations are both adjacent become one
     * pair. Empty pairs are dropped; the result is ordered by unsigned source address. Callers pass pairs whose
     * destinations are disjoint (as {@link TransferBatch} guarantees), so the order of the copies does not matter.
     *
     * @param pairs the copies, destinations disjoint
     * @return the merged copies, a new list
     */
    public static List<RegionPair> coalesce(List<RegionPair> pairs) {
        int n = pairs.size();
        long[] addresses = new long[n];
        for (int i = 0; i < n; i++) {
            addresses[i] = pairs.get(i).source().address();
        }
        Integer[] bySrc = new Integer[n];
        Arrays.setAll(bySrc, i -> i);
        Arrays.sort(bySrc, (a, b) -> Long.compareUnsigned(addresses[a], addresses[b]));
        List<RegionPair> out = new ArrayList<>(n);
        long srcStart = 0;
        long dstStart = 0;
        long length = -1;
        for (Integer index : bySrc) {
            RegionPair p = pairs.get(index);
            long size = p.source().size();
            if (size == 0) {
                continue;
            }
            if (length >= 0 && p.source().address() == srcStart + length
                    && p.destination().address() == dstStart + length) {
                length += size;
                continue;
            }
            if (length >= 0) {
                out.add(of(srcStart, dstStart, length));
            }
            srcStart = p.source().address();
            dstStart = p.destination().address();
            length = size;
        }
        if (length >= 0) {
            out.add(of(srcStart, dstStart, length));
        }
        return out;
    }

    private static RegionPair of(long src, long dst, long length) {
        return new RegionPair(new MemoryRegion(src, length), new MemoryRegion(dst, length));
    }
}
