// The element-wise and row-wise pieces of a training step on the GPU, compiled at run time by NVRTC.
//
// Written by hand because they are ours: the same formulas as activation.rs, loss.rs and optim.rs,
// fused so that each piece reads and writes memory once. The matrix products go through cuBLAS.
// Row-major throughout, as on the CPU: element (r, j) of a [rows × cols] matrix is at r·cols + j.
//
// Nothing here depends on the batch's position in the epoch through a kernel argument: the batch
// index k and the optimizer's step count t live in device memory (`counters`), so one captured
// CUDA graph replays every step of every epoch.

// Activation codes: the order of `Activation` in activation.rs (cuda/mod.rs maps them).
#define ACT_IDENTITY 0
#define ACT_SIGMOID 1
#define ACT_TANH 2
#define ACT_RELU 3
#define ACT_LEAKY 4
#define ACT_ELU 5
#define ACT_GELU 6
#define ACT_SOFTPLUS 7
#define ACT_SOFTMAX 8

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

__device__ __forceinline__ float normal_cdf_f(float z) { return 0.5f * (1.f + erff(z * 0.70710678118654752f)); }

// Φ(z), for every activation but softmax (row-wise, in output_layer).
__device__ __forceinline__ float act_value(int act, float alpha, float z) {
    switch (act) {
    case ACT_SIGMOID: return sigmoid_f(z);
    case ACT_TANH: return tanhf(z);
    case ACT_RELU: return fmaxf(z, 0.f);
    case ACT_LEAKY: return z > 0.f ? z : alpha * z;
    case ACT_ELU: return z > 0.f ? z : alpha * (expf(z) - 1.f);
    case ACT_GELU: return z * normal_cdf_f(z);
    case ACT_SOFTPLUS: return softplus_f(z);
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

// A hidden layer's forward pass after its product z = x·W: h' = z + b, h = Φ(h'), in one pass.
// h' is written back only with keep_z: Φ' of the other activations needs only h = Φ(h') and the
// sign of h', which h has too (ReLU, leaky ReLU and ELU with α ≥ 0 or > 0, sigmoid, tanh,
// identity), so one stream of memory fewer each way.
// z is [rows × cols]; a's rows are `as` floats apart (see gather_rows: the column after the last
// holds the constant 1 the next layer's bias multiplies).
extern "C" __global__ void bias_activation(float* __restrict__ z, float* __restrict__ a,
                                           const float* __restrict__ bias, long n, int cols, int act,
                                           float alpha, int keep_z, int as) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        long r = i / cols;
        long j = i - r * cols;
        float v = z[i];
        if (bias != nullptr) v += bias[j];
        if (keep_z) z[i] = v;
        a[r * as + j] = act_value(act, alpha, v);
    }
}

// δ = (δ_next·W_nextᵀ) ⊙ Φ'(h'), in place in g. z is null where bias_activation kept no h'.
extern "C" __global__ void activation_backward(float* __restrict__ g, const float* __restrict__ z,
                                               const float* __restrict__ a, long n, int act, float alpha,
                                               int cols, int as) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
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

// The output layer, one warp per row: bias, Φ (softmax row-wise), the loss, δ = ∂E/∂h' and the
// row's figures for the epoch's tally, all in one pass (loss.rs `Loss::evaluate` is the reference).
//
// stats[r·S + 0] is the row's share of the batch's mean loss, stats[r·S + 1] 1 when the row's
// class was predicted; with target values, stats[r·S + 2 + j] = (y−d)² of column j (Σd and Σd²
// for R² are the data's, summed on the host).
// inv_rows = 1/B and inv_all = 1/(B·m), rounded from f64 as on the CPU.
extern "C" __global__ void output_layer(float* __restrict__ z, float* __restrict__ a,
                                        float* __restrict__ delta, const float* __restrict__ bias,
                                        int rows, int m, int act, float alpha, int loss, float huber,
                                        const int* __restrict__ labels, const float* __restrict__ targets,
                                        float inv_rows, float inv_all, float* __restrict__ stats, int S) {
    int lane = threadIdx.x & 31;
    int warps = (gridDim.x * blockDim.x) >> 5;
    for (int r = (blockIdx.x * blockDim.x + threadIdx.x) >> 5; r < rows; r += warps) {
        float* zr = z + (long)r * m;
        float* ar = a + (long)r * m;
        float* dr = delta + (long)r * m;
        int label = labels != nullptr ? labels[r] : -1;
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
        float row_loss = 0.f, dsum = 0.f, dot = 0.f;
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
                if (d != 0.f) row_loss -= d * (v - lse);
                dsum += d;
                g = d;  // finished below, once Σd is known
            } else if (loss == LOSS_BCE) {
                row_loss += softplus_f(v) - d * v;
                g = (sigmoid_f(v) - d) * inv_all;
            } else {
                float e = y - d, el, gl;
                switch (loss) {
                case LOSS_MSE: el = e * e; gl = 2.f * e; break;
                case LOSS_HALF_SE: el = 0.5f * e * e; gl = e; break;
                case LOSS_MAE: el = fabsf(e); gl = e > 0.f ? 1.f : (e < 0.f ? -1.f : 0.f); break;
                default:  // Huber
                    if (fabsf(e) <= huber) { el = 0.5f * e * e; gl = e; }
                    else { el = huber * (fabsf(e) - 0.5f * huber); gl = e > 0.f ? huber : -huber; }
                }
                row_loss += el;
                g = gl * (loss == LOSS_HALF_SE ? inv_rows : inv_all);
                if (act == ACT_SOFTMAX) dot += g * y;
                else g = act_backward_one(act, alpha, g, v, y);
            }
            dr[j] = g;
            if (targets != nullptr) stats[(long)r * S + 2 + j] = (y - d) * (y - d);
        }
        row_loss = warp_sum(row_loss);
        if (loss == LOSS_CE) {
            dsum = warp_sum(dsum);
            for (int j = lane; j < m; j += 32) dr[j] = (ar[j] * dsum - dr[j]) * inv_rows;
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
            stats[(long)r * S + 1] = (labels != nullptr && pred == label) ? 1.f : 0.f;
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
//
// Layer l's description, meta[l·FUSED_META + …]: 0 inputs, 1 outputs, 2 offset of W [in × out] in
// the flat parameter buffer, 3 offset of b (−1: none), 4 activation code, 5 α's bits.
// ptrs[2l] is layer l's output ([rows × outputs]: h = Φ(x·W + b) for a hidden layer, h' = x·W + b
// for the last, whose Φ and loss output_layer applies), ptrs[2l + 1] its δ = ∂E/∂h'.
//
// Shared memory: two activation tiles [FUSED_ROWS × ks] (row-major, ks = the widest layer rounded
// up to 8, plus 4: rows 16 banks apart, so that a warp's two row groups never share a bank) and one
// weight tile [K × n], K and n rounded up to 4 with zeros.
//
// Thread t of 256 computes rows 4·(t/16) … +3 and columns 4·(t%16) + 64p … +3 (p = 0, 1) of a
// tile's product: per four steps of k, four 16-byte loads of its rows and four of W's, 64 FMAs.
#define FUSED_ROWS 64
#define FUSED_MAX 128
#define FUSED_META 6
// The fused kernels' dynamic shared memory (the CPU emulation, scripts/cuda-emulate, has its own).
#ifndef FUSED_SMEM
#define FUSED_SMEM extern __shared__ float fused_smem[]
#endif

__device__ __forceinline__ int round4(int n) { return (n + 3) & ~3; }

// acc[p][i][j] = Σ_k in[(4·rg + i)·ks + k] · w[k·ws + 4·cg + 64p + j], for k < k4 (a multiple of 4;
// the tiles hold zeros past their widths), over the columns below n.
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

// A [rows × cols] row-major matrix's tile (rows r0 … r0 + FUSED_ROWS − 1) into shared memory, row
// stride ks, zeros past the last row and between cols and round4(cols).
__device__ __forceinline__ void load_tile(float* s, int ks, const float* __restrict__ g, int gs, int r0,
                                          int rows, int cols) {
    int c4 = round4(cols);
    if (cols == c4 && (gs & 3) == 0) {  // whole rows of 16-byte pieces
        int q = cols >> 2;
        for (int e = threadIdx.x; e < FUSED_ROWS * q; e += blockDim.x) {
            int r = e / q, c = 4 * (e - r * q);
            *reinterpret_cast<float4*>(s + r * ks + c) =
                r0 + r < rows ? *reinterpret_cast<const float4*>(g + (long)(r0 + r) * gs + c)
                              : make_float4(0.f, 0.f, 0.f, 0.f);
        }
        return;
    }
    for (int e = threadIdx.x; e < FUSED_ROWS * c4; e += blockDim.x) {
        int r = e / c4, c = e - r * c4;
        s[r * ks + c] = (r0 + r < rows && c < cols) ? g[(long)(r0 + r) * gs + c] : 0.f;
    }
}

// A [k × n] row-major matrix into shared memory as [round4(k) × round4(n)], zeros in the margins.
__device__ __forceinline__ void load_weights(float* ws, const float* __restrict__ w, int k, int n) {
    int k4 = round4(k), n4 = round4(n);
    if (k == k4 && n == n4 && (reinterpret_cast<unsigned long long>(w) & 15) == 0) {
        // the same layout: a straight copy in 16-byte pieces
        for (int e = threadIdx.x; e < (k * n) >> 2; e += blockDim.x)
            reinterpret_cast<float4*>(ws)[e] = reinterpret_cast<const float4*>(w)[e];
        return;
    }
    for (int e = threadIdx.x; e < k4 * n4; e += blockDim.x) {
        int q = e / n4, c = e - q * n4;
        ws[e] = (q < k && c < n) ? w[q * n + c] : 0.f;
    }
}

// One thread's results for its rows and columns: v[i][j] (0 past n) into the next tile, and the
// rows that exist into g ([rows × n] row-major).
__device__ __forceinline__ void store_tile(float* s, int ks, float* __restrict__ g, int r0, int rows,
                                           int n, int p, float v[4][4]) {
    int rg = threadIdx.x >> 4, cg = threadIdx.x & 15;
    int c = 4 * cg + 64 * p;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int r = 4 * rg + i;
        *reinterpret_cast<float4*>(s + r * ks + c) = make_float4(v[i][0], v[i][1], v[i][2], v[i][3]);
        long gr = r0 + r;
        if (gr >= rows) continue;
        if ((n & 3) == 0) {
            *reinterpret_cast<float4*>(g + gr * n + c) = make_float4(v[i][0], v[i][1], v[i][2], v[i][3]);
        } else {
#pragma unroll
            for (int j = 0; j < 4; j++)
                if (c + j < n) g[gr * n + c + j] = v[i][j];
        }
    }
}

// The forward pass of every layer for one tile of the batch x ([rows × xs], the first `inputs`
// columns used). Block 0 also writes each Wᵀ ([out × in], at W's offset) into wt, for
// fused_backward's coalesced loads.
extern "C" __global__ void fused_forward(const float* __restrict__ x, int xs, int rows,
                                         const float* __restrict__ w, float* __restrict__ wt,
                                         const int* __restrict__ meta, float* const* __restrict__ ptrs,
                                         int layers, int ks) {
    FUSED_SMEM;
    float* cur = fused_smem;
    float* next = fused_smem + FUSED_ROWS * ks;
    float* ws = fused_smem + 2 * FUSED_ROWS * ks;
    int r0 = blockIdx.x * FUSED_ROWS;
    load_tile(cur, ks, x, xs, r0, rows, meta[0]);
    int cg = threadIdx.x & 15;
    for (int l = 0; l < layers; l++) {
        const int* d = meta + l * FUSED_META;
        int in = d[0], n = d[1], act = d[4];
        float alpha = __int_as_float(d[5]);
        const float* W = w + d[2];
        const float* b = d[3] >= 0 ? w + d[3] : nullptr;
        int k4 = round4(in), n4 = round4(n);
        __syncthreads();  // the last layer's product is done with ws, and its outputs are in `cur`
        load_weights(ws, W, in, n);
        __syncthreads();
        if (blockIdx.x == 0)
            for (int e = threadIdx.x; e < in * n; e += blockDim.x) {
                int c = e / in, k = e - c * in;
                wt[d[2] + e] = ws[k * n4 + c];
            }
        float acc[2][4][4];
        tile_product(cur, ks, ws, n4, k4, n, acc);
        bool last = l == layers - 1;
#pragma unroll
        for (int p = 0; p < 2; p++) {
            int c = 4 * cg + 64 * p;
            if (c >= n) continue;
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    float v = 0.f;
                    if (c + j < n) {
                        v = acc[p][i][j] + (b != nullptr ? b[c + j] : 0.f);
                        if (!last) v = act_value(act, alpha, v);
                    }
                    acc[p][i][j] = v;
                }
            store_tile(next, ks, ptrs[2 * l], r0, rows, n, p, acc[p]);
        }
        float* t = cur; cur = next; next = t;
    }
}

// The backward pass through every layer but the first's ∂E/∂x: from the last layer's δ (written
// by output_layer), δ_{l−1} = (δ_l·W_lᵀ) ⊙ Φ'(h_{l−1}) for l = L−1 … 1, one tile of rows per block,
// each δ written for the ∂E/∂W products. Φ' is taken from h = Φ(h') alone (the fused path is
// chosen only for such activations: see `bias_activation`).
extern "C" __global__ void fused_backward(const float* __restrict__ wt, const int* __restrict__ meta,
                                          float* const* __restrict__ ptrs, int layers, int rows, int ks) {
    FUSED_SMEM;
    float* cur = fused_smem;
    float* next = fused_smem + FUSED_ROWS * ks;
    float* ws = fused_smem + 2 * FUSED_ROWS * ks;
    int r0 = blockIdx.x * FUSED_ROWS;
    int rg = threadIdx.x >> 4, cg = threadIdx.x & 15;
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
        int k4 = round4(k), n4 = round4(n);
        __syncthreads();
        load_weights(ws, wt + d[2], k, n);
        __syncthreads();
        float acc[2][4][4];
        tile_product(cur, ks, ws, n4, k4, n, acc);
#pragma unroll
        for (int p = 0; p < 2; p++) {
            int c = 4 * cg + 64 * p;
            if (c >= n) continue;
#pragma unroll
            for (int i = 0; i < 4; i++) {
                long gr = r0 + 4 * rg + i;
                float a[4] = {0.f, 0.f, 0.f, 0.f};
                if (gr < rows && (n & 3) == 0) {
                    float4 v = *reinterpret_cast<const float4*>(h + gr * n + c);
                    a[0] = v.x; a[1] = v.y; a[2] = v.z; a[3] = v.w;
                } else if (gr < rows) {
#pragma unroll
                    for (int j = 0; j < 4; j++)
                        if (c + j < n) a[j] = h[gr * n + c + j];
                }
#pragma unroll
                for (int j = 0; j < 4; j++)
                    acc[p][i][j] = (c + j < n && gr < rows)
                                       ? act_backward_one(act, alpha, acc[p][i][j], a[j], a[j]) : 0.f;
            }
            store_tile(next, ks, delta, r0, rows, n, p, acc[p]);
        }
        float* t = cur; cur = next; next = t;
    }
}
