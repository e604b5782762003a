// Just enough of CUDA to run kernels.cu's kernels on the CPU, for checking their logic where there
// is no GPU (scripts/cuda-emulate.sh). Not a simulator of the hardware: a block's threads are
// std::threads, __syncthreads a barrier, a warp's shuffle an exchange through memory; blocks run
// one after another, so `static` stands for __shared__ (and a block's last-block test passes for
// the last block launched). What it checks is the arithmetic and the
// indexing, and that every thread reaches every barrier; not speed, not memory coalescing.
#pragma once
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static  // blocks run one at a time: a static is the block's
#define FUSED_SMEM extern float fused_smem[]

struct uint3 { unsigned x = 0, y = 0, z = 0; };
struct alignas(16) float4 { float x, y, z, w; };  // as CUDA aligns it: misaligned use is caught by UBSan
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

thread_local uint3 threadIdx, blockIdx;
uint3 blockDim, gridDim;

// The dynamic shared memory of fused_forward / fused_backward (`extern __shared__ float fused_smem[]`).
alignas(16) float fused_smem[1 << 16];

namespace emu {
inline std::unique_ptr<std::barrier<>> block_barrier;
inline std::unique_ptr<std::barrier<>> warp_barrier[32];
inline unsigned long long exchange[32][32];
}  // namespace emu

inline void __syncthreads() { emu::block_barrier->arrive_and_wait(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).fetch_add(v); }

inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }

// Every lane of the warp must call it, as CUDA requires for a full mask.
template <class T> T __shfl_xor_sync(unsigned, T v, int o) {
    unsigned w = threadIdx.x / 32, lane = threadIdx.x % 32;
    unsigned long long bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    emu::exchange[w][lane] = bits;
    emu::warp_barrier[w]->arrive_and_wait();
    bits = emu::exchange[w][lane ^ o];
    emu::warp_barrier[w]->arrive_and_wait();
    T r;
    std::memcpy(&r, &bits, sizeof(T));
    return r;
}

// kernel<<<grid, block>>>(args…), the blocks one at a time.
template <class... A, class... B> void launch(unsigned grid, unsigned block, void (*kernel)(A...), B... args) {
    blockDim = {block, 1, 1};
    gridDim = {grid, 1, 1};
    for (unsigned b = 0; b < grid; b++) {
        emu::block_barrier = std::make_unique<std::barrier<>>(block);
        for (unsigned w = 0; w < (block + 31) / 32; w++)
            emu::warp_barrier[w] = std::make_unique<std::barrier<>>(std::min(32u, block - 32 * w));
        std::vector<std::thread> threads;
        for (unsigned t = 0; t < block; t++)
            threads.emplace_back([=] {
                threadIdx = {t, 0, 0};
                blockIdx = {b, 0, 0};
                kernel(args...);
            });
        for (auto& th : threads) th.join();
    }
}
