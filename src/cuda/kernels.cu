// The element-wise and row-wise pieces of a training step on the GPU, compiled at run time by NVRTC.
//
// Written by hand because they are ours: the same formulas as activation.rs, loss.rs and optim.rs,
// fused so that each piece reads and writes memory once. The matrix products go through cuBLAS.
// Row-major throughout, as on the CPU: element (r, j) of a [rows × cols] matrix is at r·cols + j.
//
// Nothing here depends on the batch's position in the epoch through a kernel argument: the batch
// index k and the optimizer's step count t live in device memory (`counters`), so one captured
// CUDA graph replays every step of every epoch.

// Activation codes, as cuda/mod.rs `activation_code` maps them (SiLU came last).
#define ACT_IDENTITY 0
#define ACT_SIGMOID 1
#define ACT_TANH 2
#define ACT_RELU 3
#define ACT_LEAKY 4
#define ACT_ELU 5
#define ACT_GELU 6
#define ACT_SOFTPLUS 7
#define ACT_SOFTMAX 8
#define ACT_SILU 9
#define ACT_SELU 10

// SELU's λ and λα (activation.rs SELU_SCALE, SELU_SCALE·SELU_ALPHA), rounded to f32.
#define SELU_L 1.0507009873554805f
#define SELU_LA 1.7580993408473766f

// Loss codes.
#define LOSS_MSE 0
#define LOSS_HALF_SE 1
#define LOSS_MAE 2
#define LOSS_HUBER 3
#define LOSS_BCE 4
#define LOSS_CE 5

// Optimizer codes.
#define OPT_SGD 0
#define OPT_MOMENTUM 1
#define OPT_NESTEROV 2
#define OPT_ADAM 3
#define OPT_ADAMW 4
#define OPT_RMSPROP 5

// counters[0]: batches done in this epoch (k); counters[1]: optimizer steps taken (t);
// counters[2]: blocks of optimizer_step done with this step (0 between steps).

__device__ __forceinline__ float sigmoid_f(float z) {
    if (z >= 0.f) return 1.f / (1.f + expf(-z));
    float e = expf(z);
    return e / (1.f + e);
}

__device__ __forceinline__ float softplus_f(float z) { return fmaxf(z, 0.f) + log1pf(expf(-fabsf(z))); }

// Ψ(z) = ½·erfc(−z/√2): through erfc a negative z keeps its digits, as on the CPU (activation.rs).
__device__ __forceinline__ float normal_cdf_f(float z) { return 0.5f * erfcf(-z * 0.70710678118654752f); }

// Φ(z), for every activation but softmax (row-wise, in output_layer).
__device__ __forceinline__ float act_value(int act, float alpha, float z) {
    switch (act) {
    case ACT_SIGMOID: return sigmoid_f(z);
    case ACT_TANH: return tanhf(z);
    case ACT_RELU: return z < 0.f ? 0.f : z;  // NaN stays NaN, as on the CPU and in PyTorch
    case ACT_LEAKY: return z > 0.f ? z : alpha * z;
    case ACT_ELU: return z > 0.f ? z : alpha * (expf(z) - 1.f);
    case ACT_GELU: return z * normal_cdf_f(z);
    case ACT_SOFTPLUS: return softplus_f(z);
    case ACT_SILU: return z * sigmoid_f(z);
    case ACT_SELU: return z > 0.f ? SELU_L * z : SELU_LA * (expf(z) - 1.f);
    default: return z;
    }
}

// g·Φ'(z), given z and a = Φ(z). ReLU is a select, as on the CPU: a zero derivative gives 0 even
// where g is not finite.
__device__ __forceinline__ float act_backward_one(int act, float alpha, float g, float z, float a) {
    switch (act) {
    case ACT_SIGMOID: return g * (a * (1.f - a));
    case ACT_TANH: return g * (1.f - a * a);
    case ACT_RELU: return z > 0.f ? g : 0.f;
    case ACT_LEAKY: return g * (z > 0.f ? 1.f : alpha);
    case ACT_ELU: return g * (z > 0.f ? 1.f : a + alpha);
    case ACT_GELU: return g * (normal_cdf_f(z) + z * 0.3989422804014327f * expf(-0.5f * z * z));
    case ACT_SOFTPLUS: return g * sigmoid_f(z);
    case ACT_SILU: { float s = sigmoid_f(z); return g * (s + a * (1.f - s)); }
    case ACT_SELU: return g * (z > 0.f ? SELU_L : a + SELU_LA);
    default: return g;
    }
}

// What the batch gather reads and writes; one in device memory per run (cuda/mod.rs `BatchPlan`,
// the same layout). x: the training set [rows × cols]; order: this epoch's permutation of its rows;
// labels or targets ([rows × tcols]): the rows' classes or values (the other null); xb, lb, tb:
// the batch's rows, classes, values. xb's rows are xs floats apart: with biases folded in, column
// `cols` holds a constant 1 (set once), so that the layer's product with [W; b] adds the bias, and
// xᵀ·δ gives ∂E/∂b as the row after ∂E/∂W.
struct Batch {
    const float* x;
    const unsigned* order;
    const int* labels;
    const float* targets;
    float* xb;
    int* lb;
    float* tb;
    int batch, rows, cols, tcols, xs, pad;
};
static_assert(sizeof(Batch) == 80, "Batch: 7 addresses and 6 ints, as cuda/mod.rs writes it");

// Gathers batch k of this epoch's order (rows k·batch … of `order`; the last batch may be short)
// into xb, lb, tb; thread `tid` of `stride`. One thread per element, 16-byte loads where rows allow.
__device__ __forceinline__ void gather_batch(const Batch& b, unsigned k, long tid, long stride) {
    const unsigned* idx = b.order + (long)k * b.batch;
    long rows = b.rows - (long)k * b.batch;
    if (rows > b.batch) rows = b.batch;
    if ((b.cols & 3) == 0 && (b.xs & 3) == 0) {
        int c4 = b.cols >> 2, s4 = b.xs >> 2;
        float4* to = reinterpret_cast<float4*>(b.xb);
        const float4* from = reinterpret_cast<const float4*>(b.x);
        for (long i = tid; i < rows * c4; i += stride) {
            long r = i / c4;
            long j = i - r * c4;
            to[r * s4 + j] = from[(long)idx[r] * c4 + j];
        }
    } else {
        for (long i = tid; i < rows * b.cols; i += stride) {
            long r = i / b.cols;
            long j = i - r * b.cols;
            b.xb[r * b.xs + j] = b.x[(long)idx[r] * b.cols + j];
        }
    }
    if (b.labels != nullptr)
        for (long r = tid; r < rows; r += stride) b.lb[r] = b.labels[idx[r]];
    if (b.targets != nullptr)
        for (long i = tid; i < rows * b.tcols; i += stride) {
            long r = i / b.tcols;
            b.tb[i] = b.targets[(long)idx[r] * b.tcols + (i - r * b.tcols)];
        }
}

// The batch the next step trains (k = counters[0]), gathered before an epoch's first step; each
// step's optimizer_step gathers the one after it.
extern "C" __global__ void gather_rows(const Batch* __restrict__ b, const unsigned* __restrict__ counters,
                                       int batches) {
    gather_batch(*b, counters[0] % (unsigned)batches, blockIdx.x * (long)blockDim.x + threadIdx.x,
                 (long)gridDim.x * blockDim.x);
}

// Dropout after a hidden layer (dropout.rs is the reference): element i of the layer's mask for
// batch k is kept, as 1/(1 − p), or dropped, by the i-th number of a SplitMix64 stream keyed by
// (seed, epoch, k, layer). SplitMix64's i-th number is mix(key + (i+1)·γ), so each thread draws its
// own elements' numbers, in any order, and the GPU drops exactly the neurons the CPU drops.
// `epoch_key` (dropout.rs `Draw::epoch_key`) is written by the host once per epoch; the batch
// comes from counters[0], so one captured graph draws every batch's masks. Null: no dropout here.
struct Dropout {
    const unsigned long long* epoch_key;
    const unsigned* counters;
    unsigned long long threshold;  // dropped where the number's top 53 bits are below (dropout.rs `threshold`)
    int batches, layer;
    float keep;  // 1/(1 − p), rounded to f32 as the CPU's mask is
    int pad;
};
static_assert(sizeof(Dropout) == 40, "Dropout: 2 addresses, a u64 and 4 ints, as cuda/mod.rs writes it");

#define SPLITMIX_GAMMA 0x9E3779B97F4A7C15ull

// init.rs `Rng::new(state).next_u64()`.
__device__ __forceinline__ unsigned long long splitmix(unsigned long long state) {
    unsigned long long z = state + SPLITMIX_GAMMA;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// dropout.rs `Draw::layer_key`: this batch's key for the layer.
__device__ __forceinline__ unsigned long long dropout_key(const Dropout& d) {
    unsigned k = d.counters[0] % (unsigned)d.batches;
    return splitmix(splitmix(*d.epoch_key ^ k) ^ (unsigned long long)d.layer);
}

// Element i of the mask: 1/(1 − p) or 0.
__device__ __forceinline__ float dropout_mask(const Dropout& d, unsigned long long key, long i) {
    return (splitmix(key + (unsigned long long)i * SPLITMIX_GAMMA) >> 11) < d.threshold ? 0.f : d.keep;
}

// A hidden layer's forward pass after its product z = x·W: h' = z + b, h = Φ(h'), in one pass.
// h' is written back only with keep_z: Φ' of the other activations needs only h = Φ(h') and the
// sign of h', which h has too (ReLU, leaky ReLU and ELU with α ≥ 0 or > 0, sigmoid, tanh,
// identity), so one stream of memory fewer each way.
// z is [rows × cols]; a's rows are `as` floats apart (see gather_rows: the column after the last
// holds the constant 1 the next layer's bias multiplies).
// With dropout, a holds h̃ = h ⊙ m, which the next layer reads; h' is then always kept (keep_z),
// since h̃ has lost h where m = 0.
extern "C" __global__ void bias_activation(float* __restrict__ z, float* __restrict__ a,
                                           const float* __restrict__ bias, long n, int cols, int act,
                                           float alpha, int keep_z, int as, Dropout drop) {
    unsigned long long key = drop.epoch_key != nullptr ? dropout_key(drop) : 0;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        long r = i / cols;
        long j = i - r * cols;
        float v = z[i];
        if (bias != nullptr) v += bias[j];
        if (keep_z) z[i] = v;
        float h = act_value(act, alpha, v);
        if (drop.epoch_key != nullptr) h *= dropout_mask(drop, key, i);
        a[r * as + j] = h;
    }
}

// δ = (δ_next·W_nextᵀ) ⊙ Φ'(h'), in place in g. z is null where bias_activation kept no h'.
// With dropout, δ = ((δ_next·W_nextᵀ) ⊙ m) ⊙ Φ'(h'), h = Φ(h') made again from h' (a holds h̃).
extern "C" __global__ void activation_backward(float* __restrict__ g, const float* __restrict__ z,
                                               const float* __restrict__ a, long n, int act, float alpha,
                                               int cols, int as, Dropout drop) {
    unsigned long long key = drop.epoch_key != nullptr ? dropout_key(drop) : 0;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        if (drop.epoch_key != nullptr) {
            float zi = z[i];
            g[i] = act_backward_one(act, alpha, g[i] * dropout_mask(drop, key, i), zi, act_value(act, alpha, zi));
            continue;
        }
        long r = i / cols;
        float ai = a[r * as + (i - r * cols)];
        g[i] = act_backward_one(act, alpha, g[i], z != nullptr ? z[i] : ai, ai);
    }
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Layer normalisation of a hidden layer (layer_norm.rs is the reference), one warp per row of
// z = x·W ([rows × n]), before bias_activation takes Φ:
//   h' = z + b (bias null: none, or already in the product),   μ = Σ h'/n,   σ² = Σ (h' − μ)²/n,
//   s = 1/√(σ² + ε),   ĥ = (h' − μ)·s  into xhat,   s into inv_std[r],   u = γ·ĥ + β  over z.
// gb holds γ then β (n each), as the flat parameter buffer lays them out.
extern "C" __global__ void layer_norm_forward(float* __restrict__ z, const float* __restrict__ bias,
                                              const float* __restrict__ gb, float* __restrict__ xhat,
                                              float* __restrict__ inv_std, int rows, int n, float eps) {
    int lane = threadIdx.x & 31;
    int warps = (gridDim.x * blockDim.x) >> 5;
    float inv_n = 1.f / (float)n;
    for (int r = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; r < rows; r += warps) {
        float* zr = z + (long)r * n;
        float* xr = xhat + (long)r * n;
        float sum = 0.f;
        for (int j = lane; j < n; j += 32) {
            float v = zr[j];
            if (bias != nullptr) v += bias[j];
            xr[j] = v;
            sum += v;
        }
        float mean = warp_sum(sum) * inv_n;
        float sq = 0.f;
        for (int j = lane; j < n; j += 32) {
            float c = xr[j] - mean;
            sq += c * c;
        }
        float s = 1.f / sqrtf(warp_sum(sq) * inv_n + eps);
        for (int j = lane; j < n; j += 32) {
            float h = (xr[j] - mean) * s;
            xr[j] = h;
            zr[j] = gb[j] * h + gb[n + j];
        }
        if (lane == 0) inv_std[r] = s;
    }
}

// The backward pass of layer_norm_forward, one warp per row: g holds ∂E/∂u and becomes ∂E/∂h',
//   with d = γ·g:   ∂E/∂h' = s/n · (n·d − Σd − ĥ·Σ d·ĥ)   (the row's sums over its n units);
// and xhat's ĥ becomes g·ĥ, whose column sums are ∂E/∂γ (∂E/∂β: the column sums of g, taken
// before this kernel). gamma is γ (n).
extern "C" __global__ void layer_norm_backward(float* __restrict__ g, float* __restrict__ xhat,
                                               const float* __restrict__ inv_std,
                                               const float* __restrict__ gamma, int rows, int n) {
    int lane = threadIdx.x & 31;
    int warps = (gridDim.x * blockDim.x) >> 5;
    float inv_n = 1.f / (float)n, fn = (float)n;
    for (int r = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; r < rows; r += warps) {
        float* gr = g + (long)r * n;
        float* xr = xhat + (long)r * n;
        float sum_d = 0.f, sum_dx = 0.f;
        for (int j = lane; j < n; j += 32) {
            float d = gamma[j] * gr[j];
            sum_d += d;
            sum_dx += d * xr[j];
        }
        sum_d = warp_sum(sum_d);
        sum_dx = warp_sum(sum_dx);
        float scale = inv_std[r] * inv_n;
        for (int j = lane; j < n; j += 32) {
            float gj = gr[j], h = xr[j];
            gr[j] = scale * (fn * gamma[j] * gj - sum_d - h * sum_dx);
            xr[j] = gj * h;
        }
    }
}

// Batch normalisation's tiles: 32 columns to a block of 256 threads, lane c of warp w reading
// column c of rows w, w + 8, w + 16, …; a warp reads 32 neighbouring floats of one row at a time.
// The 8 partial sums of a column are added in a fixed order, so every run gives the same bits.
#define BN_COLS 32
#define BN_GROUPS 8

// Σ over the column's rows of v(r), for this thread's column: each thread's share, then the 8
// shares in order; every thread of the block must call it (it waits at the block's barriers).
template <class F>
__device__ __forceinline__ float bn_column_sum(float (*part)[BN_COLS], int rows, F v) {
    int c = threadIdx.x % BN_COLS, w = threadIdx.x / BN_COLS;
    float acc = 0.f;
    for (int r = w; r < rows; r += BN_GROUPS) acc += v(r);
    part[w][c] = acc;
    __syncthreads();
    float sum = 0.f;
    for (int q = 0; q < BN_GROUPS; q++) sum += part[q][c];
    __syncthreads();  // part is free for the next sum
    return sum;
}

// Batch normalisation of a hidden layer in training (batch_norm.rs is the reference), over the
// batch's rows of z = x·W ([rows × n]), column by column, before bias_activation takes Φ:
//   h' = z + b (bias null: none, or already in the product),   μⱼ = Σᵢ h'ᵢⱼ/B,
//   σ²ⱼ = Σᵢ (h'ᵢⱼ − μⱼ)²/B,   sⱼ = 1/√(σ²ⱼ + ε) into inv_std,   ĥ = (h' − μ)·s into xhat,
//   u = γ·ĥ + β over z;
//   running (mean then variance, n each) ← keep·running + m·(μ, σ²·B/(B − 1)), unless B < 2
//   (a lone row has no variance to learn from: its ĥ is 0, its u is β).
// gb holds γ then β (n each). Blocks of 256 threads, ⌈n/32⌉ of them (or fewer: they stride).
extern "C" __global__ void batch_norm_forward(float* __restrict__ z, const float* __restrict__ bias,
                                              const float* __restrict__ gb, float* __restrict__ xhat,
                                              float* __restrict__ inv_std, float* __restrict__ running,
                                              int rows, int n, float eps, float momentum, float keep) {
    __shared__ float part[BN_GROUPS][BN_COLS];
    int c = threadIdx.x % BN_COLS, w = threadIdx.x / BN_COLS;
    float inv_rows = (float)(1.0 / (double)rows);
    float bessel = rows > 1 ? (float)((double)rows / (double)(rows - 1)) : 0.f;
    for (int j0 = blockIdx.x * BN_COLS; j0 < n; j0 += gridDim.x * BN_COLS) {
        int j = j0 + c;
        bool in = j < n;  // the threads past the last column still meet every barrier
        float b = in && bias != nullptr ? bias[j] : 0.f;
        float mean = bn_column_sum(part, rows, [&](int r) {
            if (!in) return 0.f;
            float v = z[(long)r * n + j] + b;
            xhat[(long)r * n + j] = v;
            return v;
        }) * inv_rows;
        float var = bn_column_sum(part, rows, [&](int r) {
            if (!in) return 0.f;
            float d = xhat[(long)r * n + j] - mean;
            return d * d;
        }) * inv_rows;
        if (!in) continue;
        float s = 1.f / sqrtf(var + eps);
        float gamma = gb[j], beta = gb[n + j];
        for (int r = w; r < rows; r += BN_GROUPS) {
            float h = (xhat[(long)r * n + j] - mean) * s;
            xhat[(long)r * n + j] = h;
            z[(long)r * n + j] = gamma * h + beta;
        }
        if (w == 0) {
            inv_std[j] = s;
            if (rows > 1) {
                running[j] = keep * running[j] + momentum * mean;
                running[n + j] = keep * running[n + j] + momentum * var * bessel;
            }
        }
    }
}

// The backward pass of batch_norm_forward, in the same tiles: g holds ∂E/∂u and becomes ∂E/∂h',
//   ∂E/∂βⱼ = Σᵢ gᵢⱼ,   ∂E/∂γⱼ = Σᵢ gᵢⱼ·ĥᵢⱼ   into dgb (γ's then β's, n each),
//   ∂E/∂h'ᵢⱼ = γⱼ·sⱼ/B · (B·gᵢⱼ − ∂E/∂βⱼ − ĥᵢⱼ·∂E/∂γⱼ).
extern "C" __global__ void batch_norm_backward(float* __restrict__ g, const float* __restrict__ xhat,
                                               const float* __restrict__ inv_std,
                                               const float* __restrict__ gamma, float* __restrict__ dgb,
                                               int rows, int n) {
    __shared__ float part[BN_GROUPS][BN_COLS];
    int c = threadIdx.x % BN_COLS, w = threadIdx.x / BN_COLS;
    float inv_rows = (float)(1.0 / (double)rows), fb = (float)rows;
    for (int j0 = blockIdx.x * BN_COLS; j0 < n; j0 += gridDim.x * BN_COLS) {
        int j = j0 + c;
        bool in = j < n;
        float dbeta = bn_column_sum(part, rows, [&](int r) { return in ? g[(long)r * n + j] : 0.f; });
        float dgamma = bn_column_sum(part, rows, [&](int r) {
            return in ? g[(long)r * n + j] * xhat[(long)r * n + j] : 0.f;
        });
        if (!in) continue;
        float scale = gamma[j] * inv_std[j] * inv_rows;
        for (int r = w; r < rows; r += BN_GROUPS) {
            long i = (long)r * n + j;
            g[i] = scale * (fb * g[i] - dbeta - xhat[i] * dgamma);
        }
        if (w == 0) {
            dgb[j] = dgamma;
            dgb[n + j] = dbeta;
        }
    }
}

// The output layer, one warp per row: bias, Φ (softmax row-wise), the loss, δ = ∂E/∂h' and the
// row's figures for the epoch's tally, all in one pass (loss.rs `Loss::evaluate` is the reference).
//
// stats[r·S + 0] is the row's share of the batch's mean loss, stats[r·S + 1] 1 when the row's
// class was predicted; with target values, stats[r·S + 2 + j] = (y−d)² of column j (Σd and Σd²
// for R² are the data's, summed on the host).
// inv_rows = 1/B and inv_all = 1/(B·m), rounded from f64 as on the CPU. param: Huber's δ, or the
// cross-entropy's label smoothing ε (0: none).
// class_w (null: none) weights each row's loss and δ by its class's weight, as loss.rs's
// `TargetsRef::Weighted`: E = Σ_r w_r·E_r / B, the mean over rows still divided by B.
// multi = 1: the target values are labels, 0 or 1 (multi-label classification): no per-column
// sums (S = 2), and stats[r·S + 1] is 1 when every output is on its label's side of 0.5; class_w
// then holds each label's weight of its positive rows in the binary cross-entropy (loss.rs
// `positive_weighted_bce`, PyTorch's pos_weight).
extern "C" __global__ void output_layer(float* __restrict__ z, float* __restrict__ a,
                                        float* __restrict__ delta, const float* __restrict__ bias,
                                        int rows, int m, int act, float alpha, int loss, float param,
                                        const int* __restrict__ labels, const float* __restrict__ targets,
                                        const float* __restrict__ class_w, int multi, float inv_rows,
                                        float inv_all, float* __restrict__ stats, int S) {
    int lane = threadIdx.x & 31;
    int warps = (gridDim.x * blockDim.x) >> 5;
    for (int r = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; r < rows; r += warps) {
        float* zr = z + (long)r * m;
        float* ar = a + (long)r * m;
        float* dr = delta + (long)r * m;
        int label = labels != nullptr ? labels[r] : -1;
        float w = class_w != nullptr && !multi ? class_w[label] : 1.f;
        // Pass 1: h' = z + b, and the row maximum (for softmax and the cross-entropy).
        float mx = __int_as_float(0xff800000);  // −∞ (NVRTC has no math.h)
        for (int j = lane; j < m; j += 32) {
            float v = zr[j];
            if (bias != nullptr) v += bias[j];
            zr[j] = v;
            mx = fmaxf(mx, v);
        }
        mx = warp_max(mx);
        float sum = 0.f;
        if (act == ACT_SOFTMAX) {
            for (int j = lane; j < m; j += 32) sum += expf(zr[j] - mx);
            sum = warp_sum(sum);
        }
        float inv_sum = 1.f / sum;
        float lse = mx + logf(sum);
        // Pass 2: y = Φ(h'), the loss, ∂E/∂y (or ∂E/∂h' for the fused cross-entropies).
        float row_loss = 0.f, dsum = 0.f, dot = 0.f, wrong = 0.f;
        float best = __int_as_float(0xff800000);
        int best_j = 0;
        for (int j = lane; j < m; j += 32) {
            float v = zr[j];
            float y = act == ACT_SOFTMAX ? expf(v - mx) * inv_sum : act_value(act, alpha, v);
            ar[j] = y;
            if (y > best) { best = y; best_j = j; }
            float d = targets != nullptr ? targets[(long)r * m + j]
                                         : (m == 1 ? (float)label : (label == j ? 1.f : 0.f));
            float g;
            if (loss == LOSS_CE) {
                // Label smoothing ε = param: d′ = (1 − ε)·d + ε/m.
                float dt = param != 0.f ? d * (1.f - param) + param * (1.f / m) : d;
                if (dt != 0.f) row_loss -= w * dt * (v - lse);
                dsum += dt;
                g = dt;  // finished below, once Σd is known
            } else if (loss == LOSS_BCE && multi && class_w != nullptr) {
                float p = class_w[j];  // −ln σ(z) = softplus(−z), −ln(1 − σ(z)) = softplus(z)
                row_loss += p * d * softplus_f(-v) + (1.f - d) * softplus_f(v);
                g = ((1.f - d) * sigmoid_f(v) - p * d * sigmoid_f(-v)) * inv_all;
            } else if (loss == LOSS_BCE) {
                row_loss += w * (softplus_f(v) - d * v);
                g = (sigmoid_f(v) - d) * inv_all * w;
            } else {
                float e = y - d, el, gl;
                switch (loss) {
                case LOSS_MSE: el = e * e; gl = 2.f * e; break;
                case LOSS_HALF_SE: el = 0.5f * e * e; gl = e; break;
                case LOSS_MAE: el = fabsf(e); gl = e > 0.f ? 1.f : (e < 0.f ? -1.f : 0.f); break;
                default:  // Huber
                    if (fabsf(e) <= param) { el = 0.5f * e * e; gl = e; }
                    else { el = param * (fabsf(e) - 0.5f * param); gl = e > 0.f ? param : -param; }
                }
                row_loss += w * el;
                g = gl * (loss == LOSS_HALF_SE ? inv_rows : inv_all) * w;
                if (act == ACT_SOFTMAX) dot += g * y;
                else g = act_backward_one(act, alpha, g, v, y);
            }
            dr[j] = g;
            if (multi) wrong += (y > 0.5f) != (d > 0.5f) ? 1.f : 0.f;
            else if (targets != nullptr) stats[(long)r * S + 2 + j] = (y - d) * (y - d);
        }
        row_loss = warp_sum(row_loss);
        if (multi) wrong = warp_sum(wrong);
        if (loss == LOSS_CE) {
            dsum = warp_sum(dsum);
            float scale = w * inv_rows;
            for (int j = lane; j < m; j += 32) dr[j] = (ar[j] * dsum - dr[j]) * scale;
        } else if (loss != LOSS_BCE && act == ACT_SOFTMAX) {
            dot = warp_sum(dot);
            for (int j = lane; j < m; j += 32) dr[j] = ar[j] * (dr[j] - dot);
        }
        // The predicted class: the first largest output (a single output: y > 0.5), as on the CPU.
        for (int o = 16; o > 0; o >>= 1) {
            float ob = __shfl_xor_sync(0xffffffffu, best, o);
            int oj = __shfl_xor_sync(0xffffffffu, best_j, o);
            if (ob > best || (ob == best && oj < best_j)) { best = ob; best_j = oj; }
        }
        if (lane == 0) {
            float share = (loss == LOSS_CE || loss == LOSS_HALF_SE) ? inv_rows : inv_all;
            stats[(long)r * S] = row_loss * share;
            int pred = m == 1 ? (ar[0] > 0.5f ? 1 : 0) : best_j;
            bool right = multi ? wrong == 0.f : (labels != nullptr && pred == label);
            stats[(long)r * S + 1] = right ? 1.f : 0.f;
        }
    }
}

// After the step (optimizer_step's last block, 256 threads): the batch's sums of the tally rows go
// into the epoch's tally in f64, in a fixed order; the batch's mean loss into losses[k]; then k and
// t move on. The sums are `sums` (one product with a vector of ones, by cuBLAS) or, for small
// batches (stats not null), made here by one tree reduction per figure.
__device__ void finish_step(const float* __restrict__ sums, const float* __restrict__ stats, int rows, int S,
                            double* __restrict__ epoch, float* __restrict__ losses,
                            unsigned* __restrict__ counters, int batches) {
    __shared__ float part[256];
    __shared__ float first;
    unsigned k = counters[0];
    if (stats != nullptr) {
        for (int q = 0; q < S; q++) {
            float acc = 0.f;
            for (int r = threadIdx.x; r < rows; r += blockDim.x) acc += stats[(long)r * S + q];
            part[threadIdx.x] = acc;
            __syncthreads();
            for (int w = blockDim.x / 2; w > 0; w >>= 1) {
                if (threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
                __syncthreads();
            }
            if (threadIdx.x == 0) {
                epoch[q] += (double)part[0];
                if (q == 0) first = part[0];
            }
            __syncthreads();
        }
    } else {
        for (int q = threadIdx.x; q < S; q += blockDim.x) epoch[q] += (double)sums[q];
        if (threadIdx.x == 0) first = sums[0];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        losses[k % (unsigned)batches] = first;
        counters[0] = k + 1;
        counters[1] += 1;
    }
}

// Gradient clipping, first half: Σg² by blocks (in f64, each block's share in a fixed order).
extern "C" __global__ void sum_squares(const float* __restrict__ g, long n, double* __restrict__ partial) {
    __shared__ double s[256];
    double acc = 0.0;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        double v = g[i];
        acc += v * v;
    }
    s[threadIdx.x] = acc;
    __syncthreads();
    for (int w = blockDim.x / 2; w > 0; w >>= 1) {
        if (threadIdx.x < w) s[threadIdx.x] += s[threadIdx.x + w];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = s[0];
}

// Second half: the norm, and the factor that brings it down to max_norm (1 when it is below).
extern "C" __global__ void clip_factor(const double* __restrict__ partial, int blocks, double max_norm,
                                       float* __restrict__ factor) {
    if (threadIdx.x == 0) {
        double s = 0.0;
        for (int b = 0; b < blocks; b++) s += partial[b];
        double norm = sqrt(s);
        factor[0] = norm > max_norm ? (float)(max_norm / (norm + 1e-12)) : 1.f;
    }
}

// The step's last kernel. One update of every parameter, one thread each, over the flat buffer
// (optim.rs is the reference); the next batch gathered into the batch buffers, whose readers in
// this step have all run; and, by the last block to finish, the step's end (finish_step). Two
// launches fewer a step than three kernels: a small batch's step is bound by its launches.
// decay: 1 for the weights weight decay applies to (null when there is no weight decay); clip: the
// factor from clip_factor (null without clipping); lr: the learning rate, in device memory so that
// a schedule can change it between epochs without re-capturing the graph.
extern "C" __global__ void optimizer_step(float* __restrict__ w, const float* __restrict__ grad,
                                          float* __restrict__ m1, float* __restrict__ m2,
                                          const unsigned char* __restrict__ decay, long n, int rule,
                                          const double* __restrict__ lr_ptr, double weight_decay,
                                          float mu, double beta1, double beta2, float eps,
                                          unsigned* __restrict__ counters,
                                          const float* __restrict__ clip, const Batch* __restrict__ batch,
                                          int batches, const float* __restrict__ sums,
                                          const float* __restrict__ stats, int rows, int S,
                                          double* __restrict__ epoch, float* __restrict__ losses) {
    // Read by every block before it counts itself done, so before the last block moves them on.
    unsigned k = counters[0];
    double lr = lr_ptr[0];
    float a = (float)lr;
    float wd = (float)weight_decay;
    float shrink = 1.f - (float)(lr * weight_decay);
    // Adam's bias corrections, for t = steps taken + 1.
    double t = (double)(counters[1] + 1);
    float step = 0.f, inv_sqrt_bc2 = 0.f;
    if (rule == OPT_ADAM || rule == OPT_ADAMW) {
        double bc1 = 1.0 - pow(beta1, t);
        double bc2 = 1.0 - pow(beta2, t);
        step = (float)(lr / bc1);
        inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    }
    float b1 = (float)beta1, b2 = (float)beta2;
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        float g = grad[i];
        if (clip != nullptr) g *= clip[0];
        float wi = w[i];
        if (decay != nullptr && decay[i]) {
            if (rule == OPT_ADAMW) wi *= shrink;
            else g += wd * wi;
        }
        switch (rule) {
        case OPT_SGD: wi -= a * g; break;
        case OPT_MOMENTUM:
        case OPT_NESTEROV: {
            float v = mu * m1[i] + g;
            m1[i] = v;
            wi -= a * (rule == OPT_NESTEROV ? g + mu * v : v);
            break;
        }
        case OPT_ADAM:
        case OPT_ADAMW: {
            float m = b1 * m1[i] + (1.f - b1) * g;
            float v = b2 * m2[i] + (1.f - b2) * g * g;
            m1[i] = m;
            m2[i] = v;
            wi -= step * m / (sqrtf(v) * inv_sqrt_bc2 + eps);
            break;
        }
        default: {  // RMSprop: ρ in beta2
            float v = b2 * m2[i] + (1.f - b2) * g * g;
            m2[i] = v;
            wi -= a * g / (sqrtf(v) + eps);
        }
        }
        w[i] = wi;
    }
    gather_batch(*batch, (k + 1) % (unsigned)batches, blockIdx.x * (long)blockDim.x + threadIdx.x,
                 (long)gridDim.x * blockDim.x);
    // The last block to get here finishes the step: every block has read k and t by then.
    __shared__ bool last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) last = atomicAdd(&counters[2], 1u) == gridDim.x - 1;
    __syncthreads();
    if (!last) return;
    __threadfence();
    finish_step(sums, stats, rows, S, epoch, losses, counters, batches);
    if (threadIdx.x == 0) counters[2] = 0;
}

// ---- The fused path for narrow networks (every width ≤ FUSED_MAX) -------------------------------
//
// The layer-by-layer path above moves every activation through device memory several times a step:
// h' written by cuBLAS and read back, h written, δ written by cuBLAS and read back, … For a 64-wide
// network at batch 65536 that is ~0.8 GB a step, and the step is bound by it. Here one kernel runs
// the whole forward pass and one the whole backward pass (but for the products ∂E/∂W = xᵀ·δ, which
// stay with cuBLAS), a tile of FUSED_ROWS rows per block, the activations of the tile kept in
// shared memory from layer to layer, as tiny-cuda-nn's fully fused MLP does; unlike it, in f32 and
// for any width up to FUSED_MAX. Each hidden h is still written once (∂E/∂W needs it), and each δ.
// Two kinds of each kernel: f32 products on the CUDA cores, and TF32 products on the tensor cores
// (`_tf32`, for --precision tf32 or bf16, compute capability ≥ 8.0).
//
// Layer l's description, meta[l·FUSED_META + …]: 0 inputs, 1 outputs, 2 offset of W [in × out] in
// the flat parameter buffer, 3 offset of b (−1: none), 4 activation code, 5 α's bits, 6 offset of
// the layer's ∂E/∂b in a row of fused_backward's per-tile sums (−1: no bias).
// ptrs[2l] is layer l's output ([rows × outputs]: h = Φ(x·W + b) for a hidden layer, h' = x·W + b
// for the last, whose Φ and loss output_layer applies), ptrs[2l + 1] its δ = ∂E/∂h'.
//
// Shared memory: two activation tiles [FUSED_ROWS × ks] (row-major; ks = the widest layer rounded
// up to 8, plus 4, so that rows start 4 banks apart and a warp's loads of 8 rows meet different
// banks) and one weight tile [kp × wsd]: the K rows rounded up to 4 (8 for the tensor cores), the n
// columns to 4 (for the tensor cores to 32, plus 8: a warp's B fragment then meets 32 banks).
// Zeros fill the margins; the tensor-core kernels keep the weight tile rounded to TF32 (the
// activation tiles stay f32: fused_backward sums their columns for ∂E/∂b).
// Both: at most 2·FUSED_ROWS·ks + round8(w)·(round32(w) + 8) floats for the widest layer w
// (cuda/mod.rs `Fused::new`).
#define FUSED_ROWS 64
#define FUSED_MAX 128
#define FUSED_META 7
// The fused kernels' dynamic shared memory (the CPU emulation, scripts/cuda-emulate, has its own).
#ifndef FUSED_SMEM
#define FUSED_SMEM extern __shared__ float fused_smem[]
#endif

__device__ __forceinline__ int round4(int n) { return (n + 3) & ~3; }
__device__ __forceinline__ int round8(int n) { return (n + 7) & ~7; }
__device__ __forceinline__ bool aligned16(const float* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15) == 0;
}

// TF32 on the tensor cores (compute capability ≥ 8.0). tf32_round: x to TF32's 10-bit mantissa,
// to nearest, ties away from zero. mma_tf32: D += A·B for one warp's 16×8×8 tile, PTX's
// mma.m16n8k8 .tf32 with its fragments: lane 4g + t holds A[g][t], A[g+8][t], A[g][t+4],
// A[g+8][t+4]; B[t][g], B[t+4][g]; and D[g][2t], D[g][2t+1], D[g+8][2t], D[g+8][2t+1].
// The CPU emulation (scripts/cuda-emulate) has its own of both.
#ifndef MLP_EMULATE
__device__ __forceinline__ float tf32_round(float x) {
#if __CUDA_ARCH__ >= 800
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(x));
    return __uint_as_float(r);
#else
    return x;
#endif
}

__device__ __forceinline__ void mma_tf32(float d[4], const unsigned a[4], const unsigned b[2]) {
#if __CUDA_ARCH__ >= 800
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    __trap();  // never launched: cuda/mod.rs takes the tensor-core kernels from 8.0 up
#endif
}
#endif

template <bool TC> __device__ __forceinline__ float tile_value(float x) { return TC ? tf32_round(x) : x; }

// The f32 product. Thread t of 256 computes rows 4·(t/16) … +3 and columns 4·(t%16) + 64p … +3
// (p = 0, 1): acc[p][i][j] = Σ_k in[(4·rg + i)·ks + k] · w[k·ws + 4·cg + 64p + j], for k < k4 (a
// multiple of 4; the tiles hold zeros past their widths), over the columns below n. Per four steps
// of k, four 16-byte loads of its rows and four of W's per p, 64 FMAs.
__device__ __forceinline__ void tile_product(const float* in, int ks, const float* w, int ws, int k4,
                                             int n, float acc[2][4][4]) {
    int rg = threadIdx.x >> 4, cg = threadIdx.x & 15;
#pragma unroll
    for (int p = 0; p < 2; p++)
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int j = 0; j < 4; j++) acc[p][i][j] = 0.f;
    for (int k = 0; k < k4; k += 4) {
        float a[4][4];
#pragma unroll
        for (int i = 0; i < 4; i++) {
            float4 v = *reinterpret_cast<const float4*>(in + (4 * rg + i) * ks + k);
            a[i][0] = v.x; a[i][1] = v.y; a[i][2] = v.z; a[i][3] = v.w;
        }
#pragma unroll
        for (int p = 0; p < 2; p++) {
            int c = 4 * cg + 64 * p;
            if (c < n) {
                float b[4][4];
#pragma unroll
                for (int q = 0; q < 4; q++) {
                    float4 v = *reinterpret_cast<const float4*>(w + (k + q) * ws + c);
                    b[q][0] = v.x; b[q][1] = v.y; b[q][2] = v.z; b[q][3] = v.w;
                }
#pragma unroll
                for (int i = 0; i < 4; i++)
#pragma unroll
                    for (int q = 0; q < 4; q++)
#pragma unroll
                        for (int j = 0; j < 4; j++) acc[p][i][j] = fmaf(a[i][q], b[q][j], acc[p][i][j]);
            }
        }
    }
}

// The TF32 product. Warp w computes rows 16·(w%4) … +15 and the 8-column tiles w/4, w/4 + 2, …
// below n8: acc[q] is D of tile w/4 + 2q. k8 and n8: the widths rounded up to 8. The activations
// are rounded to TF32 as they are loaded (4 per step of k), the weights when the tile was staged.
__device__ __forceinline__ void tile_product_tf32(const float* in, int ks, const float* w, int wsd, int k8,
                                                  int n8, float acc[8][4]) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
    int mt = warp & 3, ng = warp >> 2;
#pragma unroll
    for (int q = 0; q < 8; q++)
#pragma unroll
        for (int r = 0; r < 4; r++) acc[q][r] = 0.f;
    const float* a0 = in + (16 * mt + g) * ks + t;
    const float* a8 = a0 + 8 * ks;
    for (int k = 0; k < k8; k += 8) {
        unsigned a[4] = {__float_as_uint(tf32_round(a0[k])), __float_as_uint(tf32_round(a8[k])),
                         __float_as_uint(tf32_round(a0[k + 4])), __float_as_uint(tf32_round(a8[k + 4]))};
        const float* b0 = w + (k + t) * wsd + g;
#pragma unroll
        for (int q = 0; q < 8; q++) {
            int nt = ng + 2 * q;
            if (8 * nt < n8) {  // the same for the whole warp, as mma.sync requires
                unsigned b[2] = {__float_as_uint(b0[8 * nt]), __float_as_uint(b0[4 * wsd + 8 * nt])};
                mma_tf32(acc[q], a, b);
            }
        }
    }
}

// A [rows × cols] row-major matrix's tile (rows r0 … r0 + FUSED_ROWS − 1) into shared memory, row
// stride ks, zeros past the last row and between cols and round8(cols).
__device__ __forceinline__ void load_tile(float* s, int ks, const float* __restrict__ g, int gs, int r0,
                                          int rows, int cols) {
    int c8 = round8(cols);
    if ((cols & 3) == 0 && (gs & 3) == 0 && aligned16(g)) {  // 16-byte pieces
        int q = cols >> 2, q8 = c8 >> 2;
        for (int e = threadIdx.x; e < FUSED_ROWS * q8; e += blockDim.x) {
            int r = e / q8, c = e - r * q8;
            float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
            if (c < q && r0 + r < rows) v = *reinterpret_cast<const float4*>(g + (long)(r0 + r) * gs + 4 * c);
            *reinterpret_cast<float4*>(s + r * ks + 4 * c) = v;
        }
        return;
    }
    for (int e = threadIdx.x; e < FUSED_ROWS * c8; e += blockDim.x) {
        int r = e / c8, c = e - r * c8;
        s[r * ks + c] = (r0 + r < rows && c < cols) ? g[(long)(r0 + r) * gs + c] : 0.f;
    }
}

// A [k × n] row-major matrix into shared memory as [kp × wsd] (kp ≥ k, wsd ≥ n and a multiple of 4),
// zeros in the margins.
template <bool TC>
__device__ __forceinline__ void load_weights(float* ws, const float* __restrict__ w, int k, int n, int kp,
                                             int wsd) {
    if ((n & 3) == 0 && aligned16(w)) {  // 16-byte pieces
        int q = n >> 2, qs = wsd >> 2;
        for (int e = threadIdx.x; e < kp * qs; e += blockDim.x) {
            int r = e / qs, c = e - r * qs;
            float4 v = make_float4(0.f, 0.f, 0.f, 0.f);
            if (r < k && c < q) v = reinterpret_cast<const float4*>(w)[r * q + c];
            reinterpret_cast<float4*>(ws)[e] =
                make_float4(tile_value<TC>(v.x), tile_value<TC>(v.y), tile_value<TC>(v.z), tile_value<TC>(v.w));
        }
        return;
    }
    for (int e = threadIdx.x; e < kp * wsd; e += blockDim.x) {
        int r = e / wsd, c = e - r * wsd;
        ws[e] = (r < k && c < n) ? tile_value<TC>(w[r * n + c]) : 0.f;
    }
}

// The f32 product's results of one thread: v[p][i][j] is row 4·(t/16) + i, column 4·(t%16) + 64p + j
// (0 past n). Into the next tile, and the rows that exist into g ([rows × n] row-major).
__device__ __forceinline__ void store_tile(float* s, int ks, float* __restrict__ g, int r0, int rows,
                                           int n, float v[2][4][4]) {
    int rg = threadIdx.x >> 4, cg = threadIdx.x & 15;
#pragma unroll
    for (int p = 0; p < 2; p++) {
        int c = 4 * cg + 64 * p;
        if (c >= n) continue;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            int r = 4 * rg + i;
            float* vi = v[p][i];
            *reinterpret_cast<float4*>(s + r * ks + c) = make_float4(vi[0], vi[1], vi[2], vi[3]);
            long gr = r0 + r;
            if (gr >= rows) continue;
            if ((n & 3) == 0) {
                *reinterpret_cast<float4*>(g + gr * n + c) = make_float4(vi[0], vi[1], vi[2], vi[3]);
            } else {
#pragma unroll
                for (int j = 0; j < 4; j++)
                    if (c + j < n) g[gr * n + c + j] = vi[j];
            }
        }
    }
}

// The TF32 product's results of one lane: v[q][2h + e] is row 16·(w%4) + g + 8h, column
// 8·(w/4 + 2q) + 2t + e (0 past n). Into the next tile, and the rows that exist into g ([rows × n]
// row-major).
__device__ __forceinline__ void store_tile_tf32(float* s, int ks, float* __restrict__ g, int r0, int rows,
                                                int n, float v[8][4]) {
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, gq = lane >> 2, t = lane & 3;
    int mt = warp & 3, ng = warp >> 2, n8 = round8(n);
#pragma unroll
    for (int q = 0; q < 8; q++) {
        int c0 = 8 * (ng + 2 * q);
        if (c0 >= n8) continue;
        int c = c0 + 2 * t;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int r = 16 * mt + gq + 8 * h;
            s[r * ks + c] = v[q][2 * h];
            s[r * ks + c + 1] = v[q][2 * h + 1];
            long gr = r0 + r;
            if (gr >= rows) continue;
            if ((n & 1) == 0 && c < n) {
                *reinterpret_cast<float2*>(g + gr * n + c) = make_float2(v[q][2 * h], v[q][2 * h + 1]);
            } else {
                if (c < n) g[gr * n + c] = v[q][2 * h];
                if (c + 1 < n) g[gr * n + c + 1] = v[q][2 * h + 1];
            }
        }
    }
}

// One layer of a fused pass for the block's tile: out = f(in·W) element by element, where
// f(v, r, c) finishes the product's value v at row r of the tile, column c (0 past the edges), into
// the next tile and the rows that exist into g. W is staged in ws ([kp × wsd]); n: out's width.
template <bool TC, class F>
__device__ __forceinline__ void layer_step(const float* in, float* next, int ks, const float* ws, int wsd,
                                           int kp, int n, F f, float* __restrict__ g, int r0, int rows) {
    if constexpr (TC) {
        float acc[8][4];
        tile_product_tf32(in, ks, ws, wsd, kp, round8(n), acc);
        int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
        int gq = lane >> 2, t = lane & 3, mt = warp & 3, ng = warp >> 2;
#pragma unroll
        for (int q = 0; q < 8; q++)
#pragma unroll
            for (int r = 0; r < 4; r++)
                acc[q][r] = f(acc[q][r], 16 * mt + gq + 8 * (r >> 1), 8 * (ng + 2 * q) + 2 * t + (r & 1));
        store_tile_tf32(next, ks, g, r0, rows, n, acc);
    } else {
        float acc[2][4][4];
        tile_product(in, ks, ws, wsd, kp, n, acc);
        int rg = threadIdx.x >> 4, cg = threadIdx.x & 15;
#pragma unroll
        for (int p = 0; p < 2; p++)
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[p][i][j] = f(acc[p][i][j], 4 * rg + i, 4 * cg + 64 * p + j);
        store_tile(next, ks, g, r0, rows, n, acc);
    }
}

// The forward pass of every layer for one tile of the batch x ([rows × xs], the first `inputs`
// columns used). The blocks also write each Wᵀ ([out × in], at W's offset) into wt, a few
// elements each, for fused_backward's coalesced loads.
template <bool TC>
__device__ __forceinline__ void fused_forward_body(const float* __restrict__ x, int xs, int rows,
                                                   const float* __restrict__ w, float* __restrict__ wt,
                                                   const int* __restrict__ meta,
                                                   float* const* __restrict__ ptrs, int layers, int ks) {
    FUSED_SMEM;
    float* cur = fused_smem;
    float* next = fused_smem + FUSED_ROWS * ks;
    float* ws = fused_smem + 2 * FUSED_ROWS * ks;
    int r0 = blockIdx.x * FUSED_ROWS;
    load_tile(cur, ks, x, xs, r0, rows, meta[0]);
    for (int l = 0; l < layers; l++) {
        const int* d = meta + l * FUSED_META;
        int in = d[0], n = d[1], act = d[4];
        float alpha = __int_as_float(d[5]);
        const float* W = w + d[2];
        const float* b = d[3] >= 0 ? w + d[3] : nullptr;
        bool last = l == layers - 1;
        int kp = TC ? round8(in) : round4(in);
        int wsd = TC ? ((n + 31) & ~31) + 8 : round4(n);
        __syncthreads();  // the last layer's product is done with ws, and its outputs are in `cur`
        load_weights<TC>(ws, W, in, n, kp, wsd);
        for (long e = blockIdx.x * (long)blockDim.x + threadIdx.x; e < in * n; e += (long)gridDim.x * blockDim.x) {
            int c = e / in, k = e - c * in;
            wt[d[2] + e] = W[k * n + c];
        }
        __syncthreads();
        // Bias and Φ (hidden layers) on the product's value v of column c; 0 past n.
        auto finish = [&](float v, int, int c) {
            if (c >= n) return 0.f;
            v += b != nullptr ? b[c] : 0.f;
            return last ? v : act_value(act, alpha, v);
        };
        layer_step<TC>(cur, next, ks, ws, wsd, kp, n, finish, ptrs[2 * l], r0, rows);
        float* s = cur; cur = next; next = s;
    }
}

// Layer d's δ in the tile s (d[1] wide): its column sums, the tile's share of ∂E/∂b = Σ_rows δ, into
// the block's row of the per-tile sums (part: [tiles × B]). Rows past the batch hold zeros. Every
// thread takes a column and a slice of the rows (4 slices for widths ≤ 64, 2 up to 128), the slices'
// sums meet in `scratch` (256 floats, free here) and are added in order. Every thread of the block
// must call it: it waits for the others once.
__device__ __forceinline__ void tile_column_sums(const float* s, int ks, const int* d, float* scratch,
                                                 float* __restrict__ part, int B) {
    int n = d[1];
    if (d[6] < 0) return;  // the same for the whole block
    int slots = n <= 64 ? 64 : 128, slices = 256 / slots, rows = FUSED_ROWS / slices;
    int c = threadIdx.x % slots, q = threadIdx.x / slots;
    if (c < n) {
        float acc = 0.f;
        for (int r = q * rows; r < (q + 1) * rows; r++) acc += s[r * ks + c];
        scratch[q * slots + c] = acc;
    }
    __syncthreads();
    if (threadIdx.x < n) {
        float acc = 0.f;
        for (int j = 0; j < slices; j++) acc += scratch[j * slots + threadIdx.x];
        part[(long)blockIdx.x * B + d[6] + threadIdx.x] = acc;
    }
}

// The backward pass through every layer but the first's ∂E/∂x: from the last layer's δ (written
// by output_layer), δ_{l−1} = (δ_l·W_lᵀ) ⊙ Φ'(h_{l−1}) for l = L−1 … 1, one tile of rows per block,
// each δ written for the ∂E/∂W products. Φ' is taken from h = Φ(h') alone (the fused path is
// chosen only for such activations: see `bias_activation`). And each δ's column sums per tile
// (see tile_column_sums), which fused_bias_sums adds into ∂E/∂b.
template <bool TC>
__device__ __forceinline__ void fused_backward_body(const float* __restrict__ wt, const int* __restrict__ meta,
                                                    float* const* __restrict__ ptrs, int layers, int rows,
                                                    int ks, float* __restrict__ part, int B) {
    FUSED_SMEM;
    float* cur = fused_smem;
    float* next = fused_smem + FUSED_ROWS * ks;
    float* ws = fused_smem + 2 * FUSED_ROWS * ks;
    int r0 = blockIdx.x * FUSED_ROWS;
    const int* top = meta + (layers - 1) * FUSED_META;
    load_tile(cur, ks, ptrs[2 * (layers - 1) + 1], top[1], r0, rows, top[1]);
    for (int l = layers - 1; l >= 1; l--) {
        const int* d = meta + l * FUSED_META;
        const int* below = meta + (l - 1) * FUSED_META;
        int n = d[0], k = d[1];  // the product δ_l·W_lᵀ: [rows × out]·[out × in]
        int act = below[4];
        float alpha = __int_as_float(below[5]);
        const float* h = ptrs[2 * (l - 1)];
        float* delta = ptrs[2 * (l - 1) + 1];
        int kp = TC ? round8(k) : round4(k);
        int wsd = TC ? ((n + 31) & ~31) + 8 : round4(n);
        __syncthreads();  // δ_l is whole in `cur`, the last product is done with ws and `next`
        tile_column_sums(cur, ks, d, next, part, B);
        load_weights<TC>(ws, wt + d[2], k, n, kp, wsd);
        __syncthreads();
        // g·Φ'(h') at row r (of the tile), column c, from the layer below's h; 0 past the edges.
        auto finish = [&](float g, int r, int c) {
            long gr = r0 + r;
            if (c >= n || gr >= rows) return 0.f;
            float a = h[gr * n + c];
            return act_backward_one(act, alpha, g, a, a);
        };
        layer_step<TC>(cur, next, ks, ws, wsd, kp, n, finish, delta, r0, rows);
        float* s = cur; cur = next; next = s;
    }
    __syncthreads();
    tile_column_sums(cur, ks, meta, next, part, B);  // δ of the first layer
}

// ∂E/∂b of every layer with a bias: fused_backward's per-tile sums (part: [tiles × B]) added over
// the tiles in a fixed order, in f64, into the gradient. A block of 256 threads takes 32 of the B
// sums, 8 threads each, each over every 8th tile; then the 8 partial sums in order.
extern "C" __global__ void fused_bias_sums(const float* __restrict__ part, int tiles, int B,
                                           const int* __restrict__ meta, int layers, float* __restrict__ grads) {
    __shared__ double acc[8][32];
    int j = threadIdx.x & 31, grp = threadIdx.x >> 5;
    int e = blockIdx.x * 32 + j;
    double s = 0.0;
    if (e < B)
        for (int t = grp; t < tiles; t += 8) s += part[(long)t * B + e];
    acc[grp][j] = s;
    __syncthreads();
    if (grp != 0 || e >= B) return;
    double total = 0.0;
    for (int q = 0; q < 8; q++) total += acc[q][j];
    for (int l = 0; l < layers; l++) {
        const int* d = meta + l * FUSED_META;
        if (d[6] >= 0 && e >= d[6] && e < d[6] + d[1]) grads[d[3] + (e - d[6])] = (float)total;
    }
}

extern "C" __global__ void __launch_bounds__(256, 2)
    fused_forward(const float* __restrict__ x, int xs, int rows, const float* __restrict__ w, float* __restrict__ wt,
                  const int* __restrict__ meta, float* const* __restrict__ ptrs, int layers, int ks) {
    fused_forward_body<false>(x, xs, rows, w, wt, meta, ptrs, layers, ks);
}

extern "C" __global__ void __launch_bounds__(256, 2)
    fused_forward_tf32(const float* __restrict__ x, int xs, int rows, const float* __restrict__ w,
                       float* __restrict__ wt, const int* __restrict__ meta, float* const* __restrict__ ptrs,
                       int layers, int ks) {
    fused_forward_body<true>(x, xs, rows, w, wt, meta, ptrs, layers, ks);
}

extern "C" __global__ void __launch_bounds__(256, 2)
    fused_backward(const float* __restrict__ wt, const int* __restrict__ meta, float* const* __restrict__ ptrs,
                   int layers, int rows, int ks, float* __restrict__ part, int B) {
    fused_backward_body<false>(wt, meta, ptrs, layers, rows, ks, part, B);
}

extern "C" __global__ void __launch_bounds__(256, 2)
    fused_backward_tf32(const float* __restrict__ wt, const int* __restrict__ meta, float* const* __restrict__ ptrs,
                        int layers, int rows, int ks, float* __restrict__ part, int B) {
    fused_backward_body<true>(wt, meta, ptrs, layers, rows, ks, part, B);
}
