// Checks kernels.cu's fused_forward and fused_backward, f32 and TF32 (_tf32, tensor cores), run on
// the CPU by emulate.hpp, against a naive reference in f64: every hidden h, the last layer's h', the
// transposed weights, every δ.
// Shapes: the benchmark's 64-wide network, widths that are not multiples of 4, the widest allowed
// (128), a layer without bias, weights off the 16-byte grid, batches that end inside a tile. Fixed seeds.
#include "emulate.hpp"
#include "../../src/cuda/kernels.cu"

#include <algorithm>
#include <cstdio>
#include <random>

struct Layer { int in, out, act; float alpha; bool bias; };

static double act_ref(int act, double a, double z) {
    switch (act) {
    case ACT_SIGMOID: return 1 / (1 + std::exp(-z));
    case ACT_TANH: return std::tanh(z);
    case ACT_RELU: return z > 0 ? z : 0;
    case ACT_LEAKY: return z > 0 ? z : a * z;
    case ACT_ELU: return z > 0 ? z : a * (std::exp(z) - 1);
    case ACT_SELU: return z > 0 ? 1.0507009873554805 * z : 1.7580993408473766 * (std::exp(z) - 1);
    default: return z;
    }
}

// Φ'(h') from h = Φ(h').
static double act_grad_ref(int act, double a, double h) {
    switch (act) {
    case ACT_SIGMOID: return h * (1 - h);
    case ACT_TANH: return 1 - h * h;
    case ACT_RELU: return h > 0 ? 1 : 0;
    case ACT_LEAKY: return h > 0 ? 1 : a;
    case ACT_ELU: return h > 0 ? 1 : h + a;
    case ACT_SELU: return h > 0 ? 1.0507009873554805 : h + 1.7580993408473766;
    default: return 1;
    }
}

static int failures = 0;

// The largest error allowed, relative to the largest value: f32 products (set in main), or TF32.
static double tolerance = 0;

static void compare(const char* what, int layer, const std::vector<float>& got, const std::vector<double>& want,
                    double tol = tolerance) {
    double scale = 1e-30, worst = 0;
    size_t at = 0;
    for (double w : want) scale = std::max(scale, std::fabs(w));
    for (size_t i = 0; i < want.size(); i++) {
        double d = std::fabs(got[i] - want[i]);
        if (d > worst || std::isnan(got[i])) { worst = std::isnan(got[i]) ? INFINITY : d; at = i; }
    }
    bool ok = worst <= tol * scale;
    if (!ok) failures++;
    std::printf("  %-6s layer %d: %zu values, worst %.2e of %.2e at %zu %s\n", what, layer, want.size(), worst,
                scale, at, ok ? "ok" : "FAILED");
}

static void check(const char* name, int rows, std::vector<Layer> net, unsigned seed, bool tc) {
    std::printf("%s, %s: %d rows\n", name, tc ? "TF32" : "f32", rows);
    // f32: sums of ≤ 128 products of values near 1, against f64: a few units of f32's 6e-8 per term
    // at most; 1e-5 of the largest element leaves room and still catches any wrong index.
    // TF32: each operand rounded to within 2⁻¹¹ (5e-4) of itself, each term to ~1e-3 of itself,
    // partly cancelling over a sum: these shapes show at most 1.3e-3 of the largest value (a tanh
    // layer whose outputs reach 1), through up to four layers; 3e-3 leaves room. A wrong index, a missed k-step or a garbage margin is off by
    // O(1), or by a whole term of ~1/√K ≥ 0.09.
    tolerance = tc ? 3e-3 : 1e-5;
    auto forward = tc ? fused_forward_tf32 : fused_forward;
    auto backward = tc ? fused_backward_tf32 : fused_backward;
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, 1.f);
    int L = net.size(), maxw = net[0].in;
    std::vector<int> meta;
    int n_params = 0, B = 0;  // B: the biases, one row of the per-tile sums
    for (auto& l : net) {
        maxw = std::max(maxw, l.out);
        int w = n_params;
        n_params += l.in * l.out;
        int b = l.bias ? n_params : -1;
        if (l.bias) n_params += l.out;
        meta.insert(meta.end(), {l.in, l.out, w, b, l.act, __float_as_int(l.alpha), l.bias ? B : -1});
        if (l.bias) B += l.out;
    }
    std::vector<float> params(n_params), wt(n_params, NAN);
    for (int l = 0; l < L; l++) {
        float s = 1.f / std::sqrt((float)net[l].in);
        for (int i = 0; i < net[l].in * net[l].out; i++) params[meta[l * FUSED_META + 2] + i] = s * normal(rng);
        if (net[l].bias)
            for (int j = 0; j < net[l].out; j++) params[meta[l * FUSED_META + 3] + j] = 0.1f * normal(rng);
    }
    int xs = net[0].in + 3;  // rows further apart than their width, as a gathered batch may be
    std::vector<float> x(rows * xs);
    for (auto& v : x) v = normal(rng);
    std::vector<std::vector<float>> out(L), delta(L);
    std::vector<float*> ptrs;
    for (int l = 0; l < L; l++) {
        out[l].assign(rows * net[l].out, NAN);
        delta[l].assign(rows * net[l].out, NAN);
        ptrs.push_back(out[l].data());
        ptrs.push_back(delta[l].data());
    }
    int ks = ((maxw + 7) & ~7) + 4;
    // The shared memory cuda/mod.rs gives the kernels (`fused_smem_floats`); the rest of the
    // emulator's array is filled with a marker that no write may touch.
    size_t smem = 2 * FUSED_ROWS * ks + (size_t)round8(maxw) * (((maxw + 31) & ~31) + 8);
    std::fill(fused_smem + smem, std::end(fused_smem), -7.f);
    unsigned grid = (rows + FUSED_ROWS - 1) / FUSED_ROWS;
    launch(grid, 256, forward, (const float*)x.data(), xs, rows, (const float*)params.data(), wt.data(),
           (const int*)meta.data(), (float* const*)ptrs.data(), L, ks);

    // The reference forward pass, in f64.
    std::vector<std::vector<double>> h(L + 1);
    h[0].resize(rows * net[0].in);
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < net[0].in; k++) h[0][r * net[0].in + k] = x[r * xs + k];
    for (int l = 0; l < L; l++) {
        auto& d = net[l];
        h[l + 1].assign(rows * d.out, 0);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < d.out; j++) {
                double z = d.bias ? params[meta[l * FUSED_META + 3] + j] : 0;
                for (int k = 0; k < d.in; k++) z += h[l][r * d.in + k] * params[meta[l * FUSED_META + 2] + k * d.out + j];
                h[l + 1][r * d.out + j] = l + 1 < L ? act_ref(d.act, d.alpha, z) : z;
            }
        compare("h", l, out[l], h[l + 1]);
        std::vector<double> t(d.in * d.out);
        for (int k = 0; k < d.in; k++)
            for (int j = 0; j < d.out; j++) t[j * d.in + k] = params[meta[l * FUSED_META + 2] + k * d.out + j];
        std::vector<float> got(wt.begin() + meta[l * FUSED_META + 2], wt.begin() + meta[l * FUSED_META + 2] + d.in * d.out);
        compare("Wt", l, got, t, 0.0);  // a copy: exact
    }

    // The backward pass from a random δ of the last layer.
    for (auto& v : delta[L - 1]) v = normal(rng);
    std::vector<float> part(grid * std::max(B, 1), NAN), grads(n_params, NAN);
    launch(grid, 256, backward, (const float*)wt.data(), (const int*)meta.data(), (float* const*)ptrs.data(),
           L, rows, ks, part.data(), B);
    launch((B + 31) / 32, 256, fused_bias_sums, (const float*)part.data(), (int)grid, B, (const int*)meta.data(), L,
           grads.data());
    // ∂E/∂b = Σ_rows δ of each layer with a bias, from the kernel's own δ (checked below), in f64.
    // Each tile sums its 64 rows in f32, within 64·2⁻²⁴ ≈ 4e-6 of its Σ|δ|; 1e-5 of a column's
    // Σ|δ| leaves room. A row counted twice or a column shifted is off by a whole |δ|.
    for (int l = 0; l < L; l++) {
        if (!net[l].bias) continue;
        int m = net[l].out, b = meta[l * FUSED_META + 3];
        double worst = 0;
        for (int j = 0; j < m; j++) {
            double want = 0, sum_abs = 0;
            for (int r = 0; r < rows; r++) {
                want += delta[l][r * m + j];
                sum_abs += std::fabs(delta[l][r * m + j]);
            }
            double err = std::fabs(grads[b + j] - want);
            worst = std::isnan(grads[b + j]) ? INFINITY : std::max(worst, err / std::max(sum_abs, 1e-30));
        }
        bool ok = worst <= 1e-5;
        if (!ok) failures++;
        std::printf("  dE/db  layer %d: %d sums, worst %.2e of the column's sum of |δ| %s\n", l, m, worst,
                    ok ? "ok" : "FAILED");
    }
    std::vector<double> g(delta[L - 1].begin(), delta[L - 1].end());
    for (int l = L - 1; l >= 1; l--) {
        auto& d = net[l];
        std::vector<double> below(rows * d.in, 0);
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < d.in; i++) {
                double s = 0;
                for (int j = 0; j < d.out; j++) s += g[r * d.out + j] * params[meta[l * FUSED_META + 2] + i * d.out + j];
                // Φ' at the f32 h the kernel saw, so that a ReLU on the edge cannot flip.
                below[r * d.in + i] = s * act_grad_ref(net[l - 1].act, net[l - 1].alpha, out[l - 1][r * d.in + i]);
            }
        compare("delta", l - 1, delta[l - 1], below);
        g = below;
    }
}

int main() {
    for (bool tc : {false, true}) {
        check("fused-64x4 (the benchmark's shape)", 200,
              {{64, 64, ACT_RELU, 0, true}, {64, 64, ACT_RELU, 0, true}, {64, 64, ACT_RELU, 0, true},
               {64, 64, ACT_RELU, 0, true}, {64, 16, ACT_IDENTITY, 0, true}},
              1, tc);
        check("37-100-128-7, tanh and sigmoid, one layer without bias", 130,
              {{37, 100, ACT_TANH, 0, true}, {100, 128, ACT_SIGMOID, 0, false}, {128, 7, ACT_IDENTITY, 0, true}}, 2, tc);
        check("5-3-6-2, leaky ReLU, ELU, identity", 64,
              {{5, 3, ACT_LEAKY, 0.1f, true}, {3, 6, ACT_ELU, 1.0f, true}, {6, 2, ACT_SOFTMAX, 0, true}}, 3, tc);
        check("6-12-12-3, SELU", 90,
              {{6, 12, ACT_SELU, 0, true}, {12, 12, ACT_SELU, 0, true}, {12, 3, ACT_IDENTITY, 0, true}}, 7, tc);
        // Layer 2's W starts 34 floats in: widths that are multiples of 4, at an address that is not.
        check("5-3-4-4-2, a 4-wide layer off the 16-byte grid", 70,
              {{5, 3, ACT_TANH, 0, true}, {3, 4, ACT_RELU, 0, true}, {4, 4, ACT_SIGMOID, 0, true},
               {4, 2, ACT_IDENTITY, 0, true}}, 5, tc);
        // 11 tiles: more than fused_bias_sums's 8 threads a sum, the last tile partly empty.
        check("9-16-3, 11 tiles", 700, {{9, 16, ACT_TANH, 0, true}, {16, 3, ACT_IDENTITY, 0, true}}, 6, tc);
        check("128-128-1, one row", 1, {{128, 128, ACT_IDENTITY, 0, true}, {128, 1, ACT_SIGMOID, 0, true}}, 4, tc);
    }
    if (failures) {
        std::printf("%d comparisons FAILED\n", failures);
        return 1;
    }
    std::printf("all fused-kernel comparisons agree with the f64 reference\n");
}
