package dev.kvbm.api;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LayoutConfigTest {

    private static LayoutConfig.Builder valid() {
        return LayoutConfig.builder().numBlocks(10).numLayers(4).outerDim(2).pageSize(16).innerDim(128);
    }

    @Test
    void defaultsAndDerivedSizes() {
        LayoutConfig c = valid().build();
        assertThat(c.alignment()).isEqualTo(1);
        assertThat(c.dtypeWidthBytes()).isEqualTo(2);
        assertThat(c.innerShape()).isEqualTo(InnerShape.UNKNOWN);
        assertThat(c.regionSize()).isEqualTo(16L * 128 * 2);
        assertThat(c.blockSize()).isEqualTo(16L * 128 * 2 * 2 * 4);
        assertThat(c.totalSize()).isEqualTo(16L * 128 * 2 * 2 * 4 * 10);
        assertThat(c.toBuilder().build()).isEqualTo(c);
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 4, 8})
    void acceptsDtypeWidthsIncludingFp8(int width) {
        assertThat(valid().dtypeWidthBytes(width).build().dtypeWidthBytes()).isEqualTo(width);
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 3, 16, -2})
    void rejectsOtherDtypeWidths(int width) {
        assertThatThrownBy(() -> valid().dtypeWidthBytes(width).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dtypeWidthBytes = " + width)
                .hasMessageContaining("1 (FP8), 2 (FP16/BF16), 4 (FP32) or 8");
    }

    @Test
    void namesTheFieldTheValueAndWhatIsAllowed() {
        assertThatThrownBy(() -> valid().numBlocks(0).build()).hasMessage(
                "LayoutConfig.numBlocks = 0 is not allowed: must be >= 1 (was it set?)");
        assertThatThrownBy(() -> valid().numLayers(-1).build()).hasMessage(
                "LayoutConfig.numLayers = -1 is not allowed: must be >= 1");
        assertThatThrownBy(() -> valid().outerDim(3).build()).hasMessageContaining("outerDim = 3")
                .hasMessageContaining("1 (fused KV, e.g. MLA) or 2");
        assertThatThrownBy(() -> valid().pageSize(0).build()).hasMessageContaining("pageSize = 0");
        assertThatThrownBy(() -> valid().innerDim(0).build()).hasMessageContaining("innerDim = 0");
        assertThatThrownBy(() -> valid().alignment(48).build()).hasMessageContaining("alignment = 48")
                .hasMessageContaining("power of two");
        assertThatThrownBy(() -> valid().innerShape(null).build()).hasMessageContaining("innerShape");
        assertThatThrownBy(() -> LayoutConfig.builder().build()).hasMessageContaining("numBlocks = 0");
    }

    @Test
    void overflowIsAnErrorNotAWrap() {
        assertThatThrownBy(() -> valid().numBlocks(Integer.MAX_VALUE).numLayers(Integer.MAX_VALUE)
                .innerDim(Integer.MAX_VALUE).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("overflows a 64-bit byte count");
    }
}
