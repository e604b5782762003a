// Just enough of CUDA to run kernels.cu's kernels on the CPU, for checking their logic where there
// is no GPU (scripts/cuda-emulate.sh). Not a simulator of the hardware: a block's threads are
// std::threads, __syncthreads a barrier, a warp's shuffle an exchange through memory; blocks run
// one after another, so `static` stands for __shared__ (and a block's last-block test passes for
// the last block launched). What it checks is the arithmetic and the
// indexing, and that every thread reaches every barrier; not speed, not memory coalescing.
#pragma once
#define MLP_EMULATE  // kernels.cu then takes tf32_round and mma_tf32 from here
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
#define __launch_bounds__(...)
#define __shared__ static  // blocks run one at a time: a static is the block's
#define FUSED_SMEM extern float fused_smem[]

struct uint3 { unsigned x = 0, y = 0, z = 0; };
struct alignas(16) float4 { float x, y, z, w; };  // as CUDA aligns it: misaligned use is caught by UBSan
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
struct alignas(8) float2 { float x, y; };
inline float2 make_float2(float x, float y) { return {x, y}; }

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
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned i; std::memcpy(&i, &f, 4); return i; }

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

// cvt.rna.tf32.f32: the 13 low mantissa bits rounded off, to nearest, ties away from zero (finite x).
inline float tf32_round(float x) { return __uint_as_float((__float_as_uint(x) + 0x1000u) & ~0x1fffu); }

// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 for the calling warp, from the fragment layout
// of PTX's documentation (lane 4g + t: A[g][t], A[g+8][t], A[g][t+4], A[g+8][t+4]; B[t][g],
// B[t+4][g]; D[g][2t], D[g][2t+1], D[g+8][2t], D[g+8][2t+1]). Each lane posts its fragments, then
// computes its four elements of D from the whole of A and B: Σ over k in order, in f32 (a product
// of two TF32 values is exact in f32). Every lane of the warp must call it, as on the GPU.
namespace emu {
inline unsigned mma_a[32][32][4], mma_b[32][32][2];
}
inline void mma_tf32(float d[4], const unsigned a[4], const unsigned b[2]) {
    unsigned w = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int r = 0; r < 4; r++) emu::mma_a[w][lane][r] = a[r] & ~0x1fffu;  // the tensor core reads TF32
    for (int r = 0; r < 2; r++) emu::mma_b[w][lane][r] = b[r] & ~0x1fffu;
    emu::warp_barrier[w]->arrive_and_wait();
    auto A = [&](int row, int k) { return __uint_as_float(emu::mma_a[w][(row % 8) * 4 + k % 4][(row / 8) + 2 * (k / 4)]); };
    auto B = [&](int k, int col) { return __uint_as_float(emu::mma_b[w][col * 4 + k % 4][k / 4]); };
    int g = lane / 4, t = lane % 4;
    float out[4];
    for (int r = 0; r < 4; r++) {
        int row = g + 8 * (r / 2), col = 2 * t + r % 2;
        float acc = d[r];
        for (int k = 0; k < 8; k++) acc += A(row, k) * B(k, col);
        out[r] = acc;
    }
    emu::warp_barrier[w]->arrive_and_wait();
    for (int r = 0; r < 4; r++) d[r] = out[r];
}
