package dev.kvbm.api;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class MemoryRegionTest {
    @Test
    void containmentAndOverlap() {
        MemoryRegion r = new MemoryRegion(0x1000, 0x100);
        assertThat(r.end()).isEqualTo(0x1100);
        assertThat(r.contains(new MemoryRegion(0x1000, 0x100))).isTrue();
        assertThat(r.contains(new MemoryRegion(0x10ff, 1))).isTrue();
        assertThat(r.contains(new MemoryRegion(0x10ff, 2))).isFalse();
        assertThat(r.contains(new MemoryRegion(0xfff, 1))).isFalse();
        assertThat(r.overlaps(new MemoryRegion(0x10ff, 10))).isTrue();
        assertThat(r.overlaps(new MemoryRegion(0x1100, 10))).isFalse();
        assertThat(r.overlaps(new MemoryRegion(0x1050, 0))).isFalse();
        assertThat(r.slice(0x10, 0x20)).isEqualTo(new MemoryRegion(0x1010, 0x20));
    }

    @Test
    void highAddressesCompareUnsigned() {
        MemoryRegion high = new MemoryRegion(0x8000_0000_0000_0000L, 4096);
        assertThat(high.contains(new MemoryRegion(0x8000_0000_0000_0010L, 16))).isTrue();
        assertThat(high.contains(new MemoryRegion(0x10, 16))).isFalse();
    }

    @Test
    void rejectsNegativeSizesWrapsAndBadSlices() {
        assertThatThrownBy(() -> new MemoryRegion(0, -1)).hasMessageContaining("size must be >= 0");
        assertThatThrownBy(() -> new MemoryRegion(-16, 32)).hasMessageContaining("wraps");
        MemoryRegion r = new MemoryRegion(0, 100);
        assertThatThrownBy(() -> r.slice(90, 20)).isInstanceOf(IndexOutOfBoundsException.class)
                .hasMessage("slice offset=90 length=20 outside region of size 100");
        assertThatThrownBy(() -> r.slice(-1, 2)).isInstanceOf(IndexOutOfBoundsException.class);
    }
}
