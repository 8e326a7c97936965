package dev.kvbm.api.spi;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StorageCapabilitiesTest {
    @Test
    void theMinimumIsWhatEveryProviderHonours() {
        assertThat(StorageCapabilities.MINIMUM).isEqualTo(new StorageCapabilities(4096, 0, false));
        assertThat(StorageCapabilities.MINIMUM.withMaxAlignment(1 << 16).withLargestAllocation(1L << 30)
                .withZeroed(true)).isEqualTo(new StorageCapabilities(1 << 16, 1L << 30, true));
    }

    @Test
    void promisesBelowTheMinimumOrMalformedAreRefused() {
        for (long alignment : new long[] {0, -4096, 2048, 4096 + 1, 12288, Long.MIN_VALUE}) {
            assertThatThrownBy(() -> new StorageCapabilities(alignment, 0, false))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("maxAlignment " + alignment);
        }
        assertThatThrownBy(() -> new StorageCapabilities(4096, -1, false))
                .hasMessageContaining("largestAllocation -1 must be >= 0");
    }
}
