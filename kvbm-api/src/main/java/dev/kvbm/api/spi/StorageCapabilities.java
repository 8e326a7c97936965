package dev.kvbm.api.spi;

import java.util.Locale;

/**
 * What a {@link StorageProvider} promises for one kind beyond the SPI's minimum, declared by the provider itself
 * ({@link StorageProvider#capabilities}) so that every caller — a tier sizing its allocations, the compatibility
 * kit's JUnit subclasses and its runner alike — reads the same promises and holds the provider to them.
 *
 * @param maxAlignment      the largest alignment {@link StorageProvider#allocate(dev.kvbm.api.StorageKind, long, long)}
 *                          honours, a power of two of at least 1 (the SPI's minimum is 4096)
 * @param largestAllocation bytes of the largest single allocation the provider promises to deliver, or 0 for no
 *                          promise
 * @param zeroed            true when every new allocation reads as zeros until written (the SPI does not require it:
 *                          KV blocks are written by a compute or a copy before anyone reads them)
 */
public record StorageCapabilities(long maxAlignment, long largestAllocation, boolean zeroed) {

    /** The SPI's minimum: alignment up to 4096, no largest allocation promised, memory not promised zeroed. */
    public static final StorageCapabilities MINIMUM = new StorageCapabilities(4096, 0, false);

    /** Checks the values. */
    public StorageCapabilities {
        if (maxAlignment < 4096 || Long.bitCount(maxAlignment) != 1) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "maxAlignment %d must be a power of two of at least 4096 (every provider honours 4096)",
                    maxAlignment));
        }
        if (largestAllocation < 0) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "largestAllocation %d must be >= 0 (0 promises no largest allocation)", largestAllocation));
        }
    }

    /**
     * {@return these capabilities with a different maximum alignment}
     *
     * @param alignment a power of two of at least 4096
     */
    public StorageCapabilities withMaxAlignment(long alignment) {
        return new StorageCapabilities(alignment, largestAllocation, zeroed);
    }

    /**
     * {@return these capabilities with a largest allocation promised}
     *
     * @param bytes bytes of the largest single allocation, or 0 for none
     */
    public StorageCapabilities withLargestAllocation(long bytes) {
        return new StorageCapabilities(maxAlignment, bytes, zeroed);
    }

    /**
     * {@return these capabilities with zeroing promised or not}
     *
     * @param promised whether new allocations read as zeros
     */
    public StorageCapabilities withZeroed(boolean promised) {
        return new StorageCapabilities(maxAlignment, largestAllocation, promised);
    }
}
