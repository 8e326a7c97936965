package dev.kvbm.api.spi;

import dev.kvbm.api.MemoryRegion;
import dev.kvbm.api.StorageKind;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TransferBatchTest {
    private final Storage src = new RegionOnlyStorage(StorageKind.SYSTEM, new MemoryRegion(0x10000, 0x10000));
    private final Storage dst = new RegionOnlyStorage(StorageKind.SYSTEM, new MemoryRegion(0x40000, 0x10000));

    private static RegionPair pair(long s, long d, long n) {
        return new RegionPair(new MemoryRegion(s, n), new MemoryRegion(d, n));
    }

    @Test
    void rejectsUnequalSizesNamingThePair() {
        RegionPair bad = new RegionPair(new MemoryRegion(0x10000, 16), new MemoryRegion(0x40000, 8));
        assertThatThrownBy(() -> new TransferBatch(src, dst, List.of(pair(0x10100, 0x40100, 4), bad)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageStartingWith("pair 1: source [0x10000, +16) is 16 bytes but destination [0x40000, +8) is 8 bytes");
    }

    @Test
    void rejectsRegionsOutsideTheirStorage() {
        assertThatThrownBy(() -> new TransferBatch(src, dst, List.of(pair(0x1fff0, 0x40000, 32))))
                .hasMessage("pair 0: source [0x1fff0, +32) lies outside the source storage System [0x10000, +65536)");
        assertThatThrownBy(() -> new TransferBatch(src, dst, List.of(pair(0x10000, 0x3fff0, 32))))
                .hasMessageContaining("pair 0: destination [0x3fff0, +32) lies outside the destination storage");
    }

    @Test
    void rejectsOverlappingDestinationsNamingBothPairs() {
        List<RegionPair> pairs = List.of(pair(0x10000, 0x40000, 64), pair(0x11000, 0x48000, 64),
                pair(0x12000, 0x40020, 64));
        assertThatThrownBy(() -> new TransferBatch(src, dst, pairs))
                .hasMessage("destinations of pair 0 [0x40000, +64) and pair 2 [0x40020, +64) overlap;"
                        + " destination ranges must be disjoint");
    }

    @Test
    void findsAnOverlapHiddenBehindALongRange() {
        // pair 0 covers pairs 1's start and pair 2; sorting by start must still catch pair 2.
        List<RegionPair> pairs = List.of(pair(0x10000, 0x40000, 0x1000), pair(0x12000, 0x40010, 16),
                pair(0x13000, 0x40800, 16));
        assertThatThrownBy(() -> new TransferBatch(src, dst, pairs)).hasMessageContaining("overlap");
    }

    @Test
    void sameStorageMustNotReadWhatItWrites() {
        assertThatThrownBy(() -> new TransferBatch(src, src, List.of(pair(0x10000, 0x10800, 64),
                pair(0x10800, 0x11000, 64))))
                .hasMessageContaining("source of pair 1 [0x10800, +64) overlaps destination of pair 0 [0x10800, +64)");
        assertThat(new TransferBatch(src, src, List.of(pair(0x10000, 0x10800, 64))).pairs()).hasSize(1);
    }

    @Test
    void coalescesAdjacentPairsInAnyOrder() {
        List<RegionPair> pairs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            pairs.add(pair(0x10000 + i * 256L, 0x40000 + i * 256L, 256));
        }
        pairs.add(pair(0x18000, 0x48000, 128)); // not adjacent to the run
        pairs.add(pair(0x18080, 0x49000, 128)); // source adjacent, destination not
        pairs.add(pair(0x1a000, 0x4a000, 0));   // empty, dropped
        Collections.shuffle(pairs, new Random(42));
        List<RegionPair> merged = new TransferBatch(src, dst, pairs).coalesced();
        assertThat(merged).containsExactly(pair(0x10000, 0x40000, 2048), pair(0x18000, 0x48000, 128),
                pair(0x18080, 0x49000, 128));
        assertThat(new TransferBatch(src, dst, pairs).totalBytes()).isEqualTo(2048 + 256);
    }

    @Test
    void emptyBatchIsValid() {
        assertThat(new TransferBatch(src, dst, List.of()).coalesced()).isEmpty();
    }
}
