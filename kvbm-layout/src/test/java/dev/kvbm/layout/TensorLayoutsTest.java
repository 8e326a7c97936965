package dev.kvbm.layout;

import dev.kvbm.api.BlockDimension;
import dev.kvbm.api.InnerShape;
import dev.kvbm.layout.TensorLayouts.KvTensor;
import dev.kvbm.layout.TensorLayouts.TensorLayout;
import org.junit.jupiter.api.Test;

import java.util.Collections;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class TensorLayoutsTest {

    /** Contiguous strides for a shape. */
    private static KvTensor contiguous(long... shape) {
        long[] strides = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = s;
            s *= shape[i];
        }
        return new KvTensor(shape, strides);
    }

    @Test
    void vllmStyleBlockFirstNhd() {
        // [blocks, 2, page, heads, head_dim] per layer, as vLLM's flash-attention backend allocates.
        List<KvTensor> layers = Collections.nCopies(32, contiguous(1000, 2, 16, 8, 128));
        TensorLayout t = TensorLayouts.determine(1000, 16, 2, layers);
        assertThat(t.blockDimension()).isEqualTo(BlockDimension.BLOCK_IS_FIRST_DIM);
        assertThat(t.config().numLayers()).isEqualTo(32);
        assertThat(t.config().outerDim()).isEqualTo(2);
        assertThat(t.config().innerDim()).isEqualTo(8 * 128);
        assertThat(t.config().innerShape()).isEqualTo(InnerShape.NHD);
    }

    @Test
    void blockSecondHnd() {
        TensorLayout t = TensorLayouts.determine(500, 16, 2, List.of(contiguous(2, 500, 8, 16, 64)));
        assertThat(t.blockDimension()).isEqualTo(BlockDimension.BLOCK_IS_SECOND_DIM);
        assertThat(t.config().outerDim()).isEqualTo(2);
        assertThat(t.config().innerShape()).isEqualTo(InnerShape.HND);
    }

    @Test
    void ambiguousInnerOrderIsUnknown() {
        TensorLayout t = TensorLayouts.determine(100, 16, 1, List.of(contiguous(100, 1, 16, 16, 64)));
        assertThat(t.config().innerShape()).isEqualTo(InnerShape.UNKNOWN);
        assertThat(t.config().dtypeWidthBytes()).isEqualTo(1);
        assertThat(t.config().outerDim()).isEqualTo(1);
    }

    @Test
    void rejectsMismatchedShapesIncreasingStridesAndBadBlockCounts() {
        assertThatThrownBy(() -> TensorLayouts.determine(10, 16, 2,
                List.of(contiguous(10, 2, 16, 64), contiguous(10, 2, 16, 32))))
                .hasMessageContaining("tensor 1 has shape [10, 2, 16, 32] but tensor 0 has [10, 2, 16, 64]");
        assertThatThrownBy(() -> TensorLayouts.determine(10, 16, 2,
                List.of(new KvTensor(new long[] {10, 2, 16, 64}, new long[] {2048, 1, 64, 1}))))
                .hasMessageContaining("increase at dimension 2 (64 > 1)");
        assertThatThrownBy(() -> TensorLayouts.determine(1000, 16, 2, List.of(contiguous(10, 2, 16, 64))))
                .hasMessageContaining("no dimension of at least numBlocks=1000");
        assertThatThrownBy(() -> TensorLayouts.determine(10, 16, 2, List.of(contiguous(10, 16, 576))))
                .hasMessageContaining("puts 16 at the outer dimension");
        assertThatThrownBy(() -> TensorLayouts.determine(10, 16, 2, List.of(contiguous(10, 2, 15, 3))))
                .hasMessageContaining("not a multiple of pageSize=16");
        assertThatThrownBy(() -> TensorLayouts.determine(10, 16, 2, List.of()))
                .hasMessageContaining("no tensors given");
        assertThatThrownBy(() -> new KvTensor(new long[] {1, 2}, new long[] {1}))
                .hasMessageContaining("one stride per dimension");
    }

    @Test
    void sizesThatOverflowOrDivideByZeroAreClearErrors() {
        // A shape whose region would hold more than 2^63 elements: an IllegalArgumentException, not an
        // ArithmeticException from the middle of the arithmetic.
        KvTensor huge = new KvTensor(new long[] {4, 2, 1L << 40, 1L << 40}, new long[] {0, 0, 0, 0});
        assertThatThrownBy(() -> TensorLayouts.determine(4, 16, 2, List.of(huge)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiply past 2^63");
        assertThatThrownBy(() -> TensorLayouts.determine(10, 0, 2, List.of(contiguous(10, 2, 16, 64))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("pageSize=0");
        assertThatThrownBy(() -> TensorLayouts.determine(0, 16, 2, List.of(contiguous(10, 2, 16, 64))))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("numBlocks=0");
    }
}
