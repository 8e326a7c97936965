package dev.kvbm.api.spi;

import dev.kvbm.api.MemoryRegion;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * A list of copies from one storage to another, validated before a byte moves.
 *
 * <p>Construction checks, and fails with an {@link IllegalArgumentException} naming the offending pair:
 * each pair's source and destination have the same size; each source lies inside the source storage's region
 * and each destination inside the destination storage's; no two destinations overlap; and when source and
 * destination are the same storage, no source overlaps any destination. Because of these rules the pairs may be
 * copied in any order, and {@link #coalesced()} may merge neighbours.
 *
 * <p>Immutable; the storages it names stay owned by their allocators.
 *
 * @param source      storage read from
 * @param destination storage written to
 * @param pairs       the copies, in no particular order
 */
public record TransferBatch(Storage source, Storage destination, List<RegionPair> pairs) {

    /** Validates every pair, as the class comment says, before a byte moves. */
    public TransferBatch {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(destination, "destination");
        pairs = List.copyOf(pairs);
        MemoryRegion srcExtent = source.region();
        MemoryRegion dstExtent = destination.region();
        for (int i = 0; i < pairs.size(); i++) {
            RegionPair p = pairs.get(i);
            if (p.source().size() != p.destination().size()) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "pair %d: source %s is %d bytes but destination %s is %d bytes; each pair must copy equal sizes",
                        i, p.source(), p.source().size(), p.destination(), p.destination().size()));
            }
            if (!srcExtent.contains(p.source())) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "pair %d: source %s lies outside the source storage %s %s",
                        i, p.source(), source.kind(), srcExtent));
            }
            if (!dstExtent.contains(p.destination())) {
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "pair %d: destination %s lies outside the destination storage %s %s",
                        i, p.destination(), destination.kind(), dstExtent));
            }
        }
        Integer[] byDst = sortedBy(pairs, RegionPair::destination);
        requireDisjoint(pairs, byDst);
        if (source == destination) {
            requireSourcesApartFromDestinations(pairs, byDst);
        }
    }

    /** {@return total bytes the batch copies} */
    public long totalBytes() {
        long total = 0;
        for (RegionPair p : pairs) {
            total = Math.addExact(total, p.source().size());
        }
        return total;
    }

    /**
     * The same copies with neighbours merged ({@link RegionPair#coalesce}).
     *
     * @return the merged copies, a new list
     */
    public List<RegionPair> coalesced() {
        return RegionPair.coalesce(pairs);
    }

    /** Indices of {@code pairs} ordered by the unsigned address of one side; no boxing of addresses. */
    private static Integer[] sortedBy(List<RegionPair> pairs, java.util.function.Function<RegionPair, MemoryRegion> side) {
        int n = pairs.size();
        long[] addresses = new long[n];
        for (int i = 0; i < n; i++) {
            addresses[i] = side.apply(pairs.get(i)).address();
        }
        Integer[] order = new Integer[n];
        Arrays.setAll(order, i -> i);
        Arrays.sort(order, (a, b) -> Long.compareUnsigned(addresses[a], addresses[b]));
        return order;
    }

    private static void requireDisjoint(List<RegionPair> pairs, Integer[] byDst) {
        int previous = -1;
        for (Integer index : byDst) {
            MemoryRegion current = pairs.get(index).destination();
            if (current.size() == 0) {
                continue;
            }
            if (previous >= 0 && pairs.get(previous).destination().overlaps(current)) {
                int a = Math.min(previous, index);
                int b = Math.max(previous, index);
                throw new IllegalArgumentException(String.format(Locale.ROOT,
                        "destinations of pair %d %s and pair %d %s overlap; destination ranges must be disjoint",
                        a, pairs.get(a).destination(), b, pairs.get(b).destination()));
            }
            // Keep the pair that reaches furthest, so a long range is compared with everything it covers.
            if (previous < 0 || Long.compareUnsigned(current.end(), pairs.get(previous).destination().end()) > 0) {
                previous = index;
            }
        }
    }

    private static void requireSourcesApartFromDestinations(List<RegionPair> pairs, Integer[] byDst) {
        Integer[] bySrc = sortedBy(pairs, RegionPair::source);
        int d = 0;
        for (Integer s : bySrc) {
            MemoryRegion src = pairs.get(s).source();
            if (src.size() == 0) {
                continue;
            }
            // Destinations are disjoint and sorted, so skip those wholly before this source.
            while (d < byDst.length && Long.compareUnsigned(pairs.get(byDst[d]).destination().end(), src.address()) <= 0) {
                d++;
            }
            for (int k = d; k < byDst.length; k++) {
                MemoryRegion dst = pairs.get(byDst[k]).destination();
                if (Long.compareUnsigned(dst.address(), src.end()) >= 0) {
                    break;
                }
                if (dst.overlaps(src)) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT,
                            "source of pair %d %s overlaps destination of pair %d %s in the same storage;"
                                    + " a batch must not read bytes it writes", s, src, byDst[k], dst));
                }
            }
        }
    }
}
