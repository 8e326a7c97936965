package dev.kvbm.api;

import java.util.Locale;

/**
 * A contiguous byte range: {@code size} bytes starting at {@code address}.
 *
 * <p>The address is a number in some address space: a virtual address of this process for host memory, a device
 * address for GPU memory, an offset for a file, or an address in another worker's process for a remote layout.
 * A region alone grants no access to anything; code that touches bytes resolves it against a
 * {@link dev.kvbm.api.spi.Storage} (or a registered remote region), which checks that it lies inside.
 *
 * @param address first byte
 * @param size    number of bytes, never negative
 */
public record MemoryRegion(long address, long size) {

    /** Checks that the size is not negative and that the range does not wrap past the end of the address space. */
    public MemoryRegion {
        if (size < 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "region size must be >= 0, got %d (address 0x%x)", size, address));
        }
        if (Long.compareUnsigned(address + size, address) < 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "region 0x%x + %d wraps past the end of the 64-bit address space", address, size));
        }
    }

    /** {@return one past the last byte} */
    public long end() {
        return address + size;
    }

    /**
     * Tests containment; an empty region lies inside if its start does.
     *
     * @param other the region tested
     * @return true when every byte of {@code other} lies inside this region
     */
    public boolean contains(MemoryRegion other) {
        return Long.compareUnsigned(other.address, address) >= 0
                && Long.compareUnsigned(other.end(), end()) <= 0;
    }

    /**
     * Tests overlap; an empty region overlaps nothing.
     *
     * @param other the region tested
     * @return true when the two regions share at least one byte
     */
    public boolean overlaps(MemoryRegion other) {
        return size > 0 && other.size > 0
                && Long.compareUnsigned(other.address, end()) < 0
                && Long.compareUnsigned(address, other.end()) < 0;
    }

    /**
     * The sub-range {@code [address + offset, address + offset + length)}, which must lie inside this region.
     *
     * @param offset bytes from this region's start, at least 0
     * @param length bytes in the slice, at least 0
     * @return the slice
     * @throws IndexOutOfBoundsException when the slice does not lie inside this region
     */
    public MemoryRegion slice(long offset, long length) {
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException(String.format(Locale.ROOT,
                    "slice offset=%d length=%d outside region of size %d", offset, length, size));
        }
        return new MemoryRegion(address + offset, length);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "[0x%x, +%d)", address, size);
    }
}
