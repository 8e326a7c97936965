// The copy kernel of kvbm-backend-cuda: one launch copies a whole list of (src, dst, size) regions, which is how
// a LayerSeparate <-> FullyContiguous transfer of thousands of small regions avoids thousands of DMA submissions.
//
// Compiled to PTX (the driver JIT-compiles it for the GPU at hand) by scripts/cuda-ptx, which writes
// src/main/resources/dev/kvbm/backend/cuda/kvbm_copy.ptx; CudaPtxTest regenerates it when nvcc is present and fails
// when the committed file differs. Any address of the unified address space works: device memory, and pinned host
// memory mapped with CU_MEMHOSTALLOC_DEVICEMAP.

#include <stdint.h>

// One region: 24 bytes, the layout CopyKernel writes.
struct KvbmCopy {
    const uint8_t* src;
    uint8_t* dst;
    uint64_t size;
};

// Each thread block takes regions blockIdx.x, blockIdx.x + gridDim.x, ...; its threads copy a region together in
// the widest unit that the region's addresses and size allow (16, 8, 4 bytes, else bytes).
extern "C" __global__ void kvbm_copy_regions(const KvbmCopy* __restrict__ regions, uint32_t count) {
    for (uint32_t r = blockIdx.x; r < count; r += gridDim.x) {
        const uint8_t* src = regions[r].src;
        uint8_t* dst = regions[r].dst;
        const uint64_t size = regions[r].size;
        const uint64_t bits = (uint64_t) src | (uint64_t) dst | size;
        if ((bits & 15) == 0) {
            const uint4* s = (const uint4*) src;
            uint4* d = (uint4*) dst;
            for (uint64_t i = threadIdx.x; i < (size >> 4); i += blockDim.x) {
                d[i] = s[i];
            }
        } else if ((bits & 7) == 0) {
            const uint64_t* s = (const uint64_t*) src;
            uint64_t* d = (uint64_t*) dst;
            for (uint64_t i = threadIdx.x; i < (size >> 3); i += blockDim.x) {
                d[i] = s[i];
            }
        } else if ((bits & 3) == 0) {
            const uint32_t* s = (const uint32_t*) src;
            uint32_t* d = (uint32_t*) dst;
            for (uint64_t i = threadIdx.x; i < (size >> 2); i += blockDim.x) {
                d[i] = s[i];
            }
        } else {
            for (uint64_t i = threadIdx.x; i < size; i += blockDim.x) {
                dst[i] = src[i];
            }
        }
    }
}
