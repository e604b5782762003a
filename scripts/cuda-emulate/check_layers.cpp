// Checks the layer-by-layer kernels of kernels.cu that dropout and class weights reach, run on the
// CPU by emulate.hpp: bias_activation and activation_backward with dropout (the masks against the
// CPU's way of drawing them: one SplitMix64 stream read in order, u = n·2⁻⁵³ < p), the pinned key
// and mask of dropout.rs's test `the_stream_is_pinned`, and output_layer's class weights against
// loss.rs's weighted formulas in f64. Fixed seeds.
#include "emulate.hpp"
#include "../../src/cuda/kernels.cu"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <random>

// The layout cuda/mod.rs `DropoutArg` writes.
static_assert(offsetof(Dropout, threshold) == 16 && offsetof(Dropout, keep) == 32 && sizeof(Dropout) == 40);

static int failures = 0;

static void expect(bool ok, const char* what) {
    std::printf("  %-66s %s\n", what, ok ? "ok" : "FAILED");
    if (!ok) failures++;
}

// init.rs's Rng, read in order, as the CPU reads it.
struct Rng {
    uint64_t state;
    uint64_t next() {
        state += 0x9E3779B97F4A7C15ull;
        uint64_t z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return (double)(next() >> 11) * (1.0 / (double)(1ull << 53)); }
};

// dropout.rs `Draw::key`, the CPU's way: seed, epoch, batch, layer mixed one after the other.
static uint64_t cpu_key(uint64_t seed, uint64_t epoch, uint64_t batch, uint64_t layer) {
    uint64_t k = seed ^ (0x000D8090ull * 0x9E3779B97F4A7C15ull);
    for (uint64_t part : {epoch, batch, layer}) k = Rng{k ^ part}.next();
    return k;
}

// dropout.rs `threshold`.
static uint64_t threshold(double p) { return (uint64_t)std::ceil(p * (double)(1ull << 53)); }

static double act_ref(int act, double a, double z) {
    switch (act) {
    case ACT_SIGMOID: return 1 / (1 + std::exp(-z));
    case ACT_TANH: return std::tanh(z);
    case ACT_RELU: return z > 0 ? z : 0;
    case ACT_GELU: return 0.5 * z * (1 + std::erf(z / std::sqrt(2.0)));
    case ACT_SILU: return z / (1 + std::exp(-z));
    case ACT_SELU: return z > 0 ? 1.0507009873554805 * z : 1.7580993408473766 * (std::exp(z) - 1);
    default: return z;
    }
}

static double act_grad_ref(int act, double a, double z) {
    switch (act) {
    case ACT_SIGMOID: { double s = act_ref(act, a, z); return s * (1 - s); }
    case ACT_TANH: { double t = std::tanh(z); return 1 - t * t; }
    case ACT_RELU: return z > 0 ? 1 : 0;
    case ACT_GELU: return 0.5 * (1 + std::erf(z / std::sqrt(2.0))) + z * std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
    case ACT_SILU: { double s = 1 / (1 + std::exp(-z)); return s * (1 + z * (1 - s)); }
    case ACT_SELU: return z > 0 ? 1.0507009873554805 : 1.7580993408473766 * std::exp(z);
    default: return 1;
    }
}

// The pinned numbers of dropout.rs's `the_stream_is_pinned`: seed 7, epoch 2, batch 3, layer 1.
static void pinned() {
    std::printf("the pinned stream\n");
    unsigned long long epoch_key = 0x9cd923910787618full;  // Draw::epoch_key(7, 2)
    expect(cpu_key(7, 2, 3, 1) == 0x32c102bef10118bfull, "this file's CPU key is dropout.rs's");
    unsigned counters[3] = {3 + 5, 0, 0};  // batch 3 of 5, after the index wrapped once (time_steps)
    Dropout d{&epoch_key, counters, threshold(0.5), 5, 1, 2.f, 0};
    unsigned long long key = dropout_key(d);
    expect(key == 0x32c102bef10118bfull, "dropout_key mixes the batch and the layer in as the CPU");
    const float want[8] = {0, 0, 0, 2, 0, 2, 2, 0};
    bool same = true;
    for (int i = 0; i < 8; i++) same &= dropout_mask(d, key, i) == want[i];
    expect(same, "dropout_mask draws the pinned mask");
}

// bias_activation and activation_backward of one layer with dropout rate p, on `grid` blocks.
static void layer(const char* name, int act, double p, int rows, int cols, int as, unsigned grid) {
    std::printf("%s: p %.2f, %d × %d, rows %d floats apart, %u blocks\n", name, p, rows, cols, as, grid);
    std::mt19937 rng(11);
    std::normal_distribution<float> normal(0.f, 1.f);
    const long n = (long)rows * cols;
    const uint64_t seed = 42, epoch = 3, batch = 2, layer_index = 1;
    const int batches = 4;
    std::vector<float> z(n), bias(cols), a(rows * as, -7.f), g(n);
    for (auto& v : z) v = normal(rng);
    for (auto& v : bias) v = 0.5f * normal(rng);
    for (auto& v : g) v = normal(rng);
    auto z0 = z, g0 = g;
    unsigned long long epoch_key = Rng{(seed ^ (0x000D8090ull * 0x9E3779B97F4A7C15ull)) ^ epoch}.next();
    unsigned counters[3] = {(unsigned)batch, 9, 0};
    float keep = (float)(1.0 / (1.0 - p));
    Dropout d{&epoch_key, counters, threshold(p), batches, (int)layer_index, keep, 0};
    launch(grid, 256, bias_activation, z.data(), a.data(), (const float*)bias.data(), n, cols, act, 0.f, 1, as, d);

    // The CPU's mask: the stream read in order.
    Rng stream{cpu_key(seed, epoch, batch, layer_index)};
    std::vector<float> mask(n);
    long dropped = 0;
    for (long i = 0; i < n; i++) {
        mask[i] = stream.uniform() < p ? 0.f : keep;
        dropped += mask[i] == 0.f;
    }
    bool masks = true, values = true, kept_z = true, ones = true;
    for (int r = 0; r < rows; r++) {
        for (int j = 0; j < cols; j++) {
            long i = (long)r * cols + j;
            double v = (double)z0[i] + bias[j];
            double want = act_ref(act, 0, v) * mask[i];
            float got = a[r * as + j];
            masks &= (got == 0.f) == (mask[i] == 0.f || act_ref(act, 0, v) == 0);
            // f32 sums and f32 Φ: a few units of f32's 6e-8.
            values &= std::fabs(got - want) <= 1e-6 * (1 + std::fabs(want));
            kept_z &= std::fabs(z[i] - v) <= 1e-6 * (1 + std::fabs(v));
        }
        for (int j = cols; j < as; j++) ones &= a[r * as + j] == -7.f;
    }
    std::printf("  (%ld of %ld dropped)\n", dropped, n);
    expect(masks, "the GPU drops exactly the elements the CPU drops");
    expect(values, "h̃ = Φ(h' + b) ⊙ m");
    expect(kept_z, "h' is kept for the backward pass");
    expect(ones, "the padding after each row is left alone");

    launch(grid, 256, activation_backward, g.data(), (const float*)z.data(), (const float*)a.data(), n, act, 0.f, cols,
           as, d);
    bool grads = true;
    for (long i = 0; i < n; i++) {
        double want = (double)g0[i] * mask[i] * act_grad_ref(act, 0, z[i]);
        grads &= std::fabs(g[i] - want) <= 1e-6 * (1 + std::fabs(want));
    }
    expect(grads, "δ = (∂E/∂h̃ ⊙ m) ⊙ Φ'(h')");
}

// output_layer with class weights against loss.rs's weighted formulas, in f64.
static void weighted(const char* name, int act, int loss, int m) {
    std::printf("%s: class weights, %d output%s\n", name, m, m == 1 ? "" : "s");
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0.f, 1.f);
    const int rows = 21, S = 2, classes = m == 1 ? 2 : m;
    std::vector<float> z(rows * m), a(rows * m), delta(rows * m), stats(rows * S), w(classes);
    std::vector<int> labels(rows);
    for (auto& v : z) v = 2 * normal(rng);
    for (auto& l : labels) l = rng() % classes;
    for (int c = 0; c < classes; c++) w[c] = 0.25f + 0.75f * c;
    auto z0 = z;
    float inv_rows = (float)(1.0 / rows), inv_all = (float)(1.0 / (rows * m));
    launch(3, 256, output_layer, z.data(), a.data(), delta.data(), (const float*)nullptr, rows, m, act, 0.f, loss, 0.f,
           (const int*)labels.data(), (const float*)nullptr, (const float*)w.data(), 0, inv_rows, inv_all, stats.data(),
           S);
    bool deltas = true, losses = true;
    for (int r = 0; r < rows; r++) {
        const float* zr = &z0[r * m];
        double wr = w[labels[r]], row = 0;
        std::vector<double> want(m);
        auto d = [&](int j) { return m == 1 ? (double)labels[r] : (labels[r] == j ? 1.0 : 0.0); };
        if (loss == LOSS_CE) {
            double mx = zr[0], s = 0;
            for (int j = 0; j < m; j++) mx = std::max(mx, (double)zr[j]);
            for (int j = 0; j < m; j++) s += std::exp(zr[j] - mx);
            double lse = mx + std::log(s);
            for (int j = 0; j < m; j++) {
                row -= wr * d(j) * (zr[j] - lse);
                want[j] = wr * (std::exp(zr[j] - lse) - d(j)) / rows;  // Σd = 1
            }
            row /= rows;
        } else if (loss == LOSS_BCE) {
            for (int j = 0; j < m; j++) {
                double sp = std::max((double)zr[j], 0.0) + std::log1p(std::exp(-std::fabs((double)zr[j])));
                row += wr * (sp - d(j) * zr[j]);
                want[j] = wr * (1 / (1 + std::exp(-(double)zr[j])) - d(j)) / (rows * m);
            }
            row /= rows * m;
        } else {  // MSE through an identity output
            for (int j = 0; j < m; j++) {
                double e = zr[j] - d(j);
                row += wr * e * e;
                want[j] = wr * 2 * e / (rows * m);
            }
            row /= rows * m;
        }
        // f32 rounding of the row's terms (outputs near 1, inputs up to max|z|, scaled by w/B or
        // w/(B·m)): a few units of f32's 6e-8 of that size, whatever is left after they cancel (a
        // confident right answer makes p − 1 and −ln p small).
        double zmax = 0;
        for (int j = 0; j < m; j++) zmax = std::max(zmax, std::fabs((double)zr[j]));
        double size = wr * (1 + zmax) / (loss == LOSS_CE ? rows : rows * m);
        for (int j = 0; j < m; j++) deltas &= std::fabs(delta[r * m + j] - want[j]) <= 1e-6 * size;
        losses &= std::fabs(stats[r * S] - row) <= 1e-6 * size;
    }
    expect(deltas, "δ of each row is w_class times its unweighted δ");
    expect(losses, "each row's share of the loss is w_class times its own");
}

// output_layer with labels (multi-label: sigmoid outputs, binary cross-entropy against 0/1
// targets): δ and the loss as for values, and a row counted right only when every label is;
// `weighted`: each label's positive rows weighted (loss.rs `positive_weighted_bce`).
static void multi_label(int m, bool weighted) {
    std::printf("multi-label: %d labels, sigmoid and binary cross-entropy%s\n", m,
                weighted ? ", positives weighted" : "");
    std::mt19937 rng(9);
    std::normal_distribution<float> normal(0.f, 1.f);
    const int rows = 19, S = 2;
    std::vector<float> z(rows * m), a(rows * m), delta(rows * m), stats(rows * S, -1.f), t(rows * m);
    for (auto& v : t) v = rng() % 2;
    // Mostly right: z leans towards each label, so that some rows have every label right and
    // some not (further with more labels, each a chance to be wrong).
    float lean = m > 8 ? 4.f : 2.f;
    for (int i = 0; i < rows * m; i++) z[i] = (t[i] > 0.5f ? lean : -lean) + 1.5f * normal(rng);
    auto z0 = z;
    std::vector<float> pos(m, 1.f);
    if (weighted)
        for (int j = 0; j < m; j++) pos[j] = 0.5f + 0.25f * (j % 7);
    float inv_rows = (float)(1.0 / rows), inv_all = (float)(1.0 / (rows * m));
    launch(3, 256, output_layer, z.data(), a.data(), delta.data(), (const float*)nullptr, rows, m, ACT_SIGMOID, 0.f,
           LOSS_BCE, 0.f, (const int*)nullptr, (const float*)t.data(), (const float*)(weighted ? pos.data() : nullptr),
           1, inv_rows, inv_all, stats.data(), S);
    bool deltas = true, losses = true, tally = true;
    int right_rows = 0;
    for (int r = 0; r < rows; r++) {
        double row = 0, zmax = 0;
        bool right = true;
        for (int j = 0; j < m; j++) {
            double zj = z0[r * m + j], d = t[r * m + j], p = 1 / (1 + std::exp(-zj)), w = pos[j];
            // −w·d·ln σ(z) − (1 − d)·ln(1 − σ(z)), and its derivative (1 − d)·σ(z) − w·d·(1 − σ(z))
            row += -w * d * std::log(p) - (1 - d) * std::log1p(-p);
            zmax = std::max(zmax, std::fabs(zj));
            double want = ((1 - d) * p - w * d * (1 - p)) / (rows * m);
            deltas &= std::fabs(delta[r * m + j] - want) <= 1e-6 * (1 + zmax) / (rows * m);
            right &= (p > 0.5) == (d > 0.5);
        }
        row /= rows * m;
        losses &= std::fabs(stats[r * S] - row) <= 1e-6 * (1 + zmax) * m / (rows * m);
        tally &= stats[r * S + 1] == (right ? 1.f : 0.f);
        right_rows += right;
    }
    std::printf("  (%d of %d rows with every label right)\n", right_rows, rows);
    expect(deltas, weighted ? "δ = ((1 − d)·σ(z) − w·d·σ(−z))/(B·m)" : "δ = (σ(z) − d)/(B·m), as for values");
    expect(losses, "each row's share of the loss");
    expect(tally && right_rows > 0 && right_rows < rows, "a row is right when every label is, and only then");
}

// output_layer's softmax cross-entropy with label smoothing ε (its loss parameter): against
// d′ = (1 − ε)·d + ε/m, as loss.rs and PyTorch's label_smoothing.
static void smoothed(int m, float eps) {
    std::printf("softmax cross-entropy, label smoothing %.2f, %d classes\n", eps, m);
    std::mt19937 rng(13);
    std::normal_distribution<float> normal(0.f, 1.f);
    const int rows = 17, S = 2;
    std::vector<float> z(rows * m), a(rows * m), delta(rows * m), stats(rows * S);
    std::vector<int> labels(rows);
    for (auto& v : z) v = 2 * normal(rng);
    for (auto& l : labels) l = rng() % m;
    auto z0 = z;
    launch(3, 256, output_layer, z.data(), a.data(), delta.data(), (const float*)nullptr, rows, m, ACT_SOFTMAX, 0.f,
           LOSS_CE, eps, (const int*)labels.data(), (const float*)nullptr, (const float*)nullptr, 0,
           (float)(1.0 / rows), (float)(1.0 / (rows * m)), stats.data(), S);
    bool deltas = true, losses = true;
    for (int r = 0; r < rows; r++) {
        const float* zr = &z0[r * m];
        double mx = zr[0], sum = 0, row = 0, zmax = 0;
        for (int j = 0; j < m; j++) mx = std::max(mx, (double)zr[j]), zmax = std::max(zmax, std::fabs((double)zr[j]));
        for (int j = 0; j < m; j++) sum += std::exp(zr[j] - mx);
        double lse = mx + std::log(sum);
        for (int j = 0; j < m; j++) {
            double d = (1 - eps) * (labels[r] == j) + eps / m;
            row -= d * (zr[j] - lse);
            double want = (std::exp(zr[j] - lse) - d) / rows;
            deltas &= std::fabs(delta[r * m + j] - want) <= 1e-6 * (1 + zmax) / rows;
        }
        losses &= std::fabs(stats[r * S] - row / rows) <= 1e-6 * (1 + zmax) * m / rows;
    }
    expect(deltas, "δ = (softmax(z) − d′)/B");
    expect(losses, "each row's share of the loss, −Σ d′·ln softmax(z)");
}

// The mean, the biased variance and s = 1/√(σ² + ε) of h, in f64: a row's (layer_norm.rs) or a
// column's (batch_norm.rs) statistics.
struct Moments {
    double mean, var, s;
};
static Moments moments(const std::vector<double>& h, float eps) {
    double mean = 0, var = 0;
    for (double v : h) mean += v;
    mean /= h.size();
    for (double v : h) var += (v - mean) * (v - mean);
    var /= h.size();
    return {mean, var, 1 / std::sqrt(var + (double)eps)};
}

// layer_norm_forward and layer_norm_backward on `rows` rows of n units, against layer_norm.rs's
// formulas in f64; the last row is constant, so that σ² = 0 (ĥ = 0, u = β). `bias`: h' = z + b
// added by the kernel (the large batches' path), else h' = z (the bias in the product).
static void layer_norm(int rows, int n, unsigned grid, bool bias) {
    std::printf("layer normalisation: %d × %d, %u blocks%s\n", rows, n, grid, bias ? ", bias added" : "");
    std::mt19937 rng(17);
    std::normal_distribution<float> normal(0.f, 1.f);
    const float eps = 1e-5f;
    std::vector<float> z(rows * n), b(n), gb(2 * n), xhat(rows * n, -9.f), inv_std(rows, -9.f), g(rows * n);
    for (auto& v : z) v = 1.5f + 2 * normal(rng);
    // Biases in eighths, so that the constant row below stays exactly constant once they are added.
    for (auto& v : b) v = std::round(4 * normal(rng)) / 8;
    for (auto& v : gb) v = normal(rng);
    for (auto& v : g) v = normal(rng);
    // The last row constant once its bias is added.
    for (int j = 0; j < n; j++) z[(rows - 1) * n + j] = bias ? 0.75f - b[j] : 0.75f;
    auto z0 = z, g0 = g;
    launch(grid, 256, layer_norm_forward, z.data(), (const float*)(bias ? b.data() : nullptr), (const float*)gb.data(),
           xhat.data(), inv_std.data(), rows, n, eps);
    bool stats = true, xhats = true, us = true, flat = true;
    std::vector<double> want_xhat(rows * n), want_s(rows);
    for (int r = 0; r < rows; r++) {
        std::vector<double> h(n);
        for (int j = 0; j < n; j++) h[j] = (double)z0[r * n + j] + (bias ? b[j] : 0.f);
        auto [mean, var, s] = moments(h, eps);
        want_s[r] = s;
        // f32 sums of n terms of size |h'|: a few units of f32's 6e-8 times n, relative to s.
        stats &= std::fabs(inv_std[r] - s) <= 1e-5 * s * (1 + std::fabs(mean));
        for (int j = 0; j < n; j++) {
            double xh = (h[j] - mean) * s, u = gb[j] * xh + gb[n + j];
            want_xhat[r * n + j] = xh;
            double size = 1 + s * std::fabs(mean);  // h' − μ cancels: its error is μ's, times s
            xhats &= std::fabs(xhat[r * n + j] - xh) <= 1e-5 * size;
            us &= std::fabs(z[r * n + j] - u) <= 1e-5 * size * (1 + std::fabs(gb[j]));
            if (r == rows - 1) flat &= xhat[r * n + j] == 0.f && z[r * n + j] == gb[n + j];
        }
    }
    expect(stats, "s = 1/√(σ² + ε) of each row");
    expect(xhats, "ĥ = (h' − μ)·s kept for the backward pass");
    expect(us, "u = γ·ĥ + β over z");
    expect(flat, "a constant row: ĥ = 0, u = β exactly");

    launch(grid, 256, layer_norm_backward, g.data(), xhat.data(), (const float*)inv_std.data(), (const float*)gb.data(),
           rows, n);
    bool deltas = true, products = true;
    for (int r = 0; r < rows; r++) {
        double sum_d = 0, sum_dx = 0, dmax = 0;
        for (int j = 0; j < n; j++) {
            double d = (double)gb[j] * g0[r * n + j];
            sum_d += d;
            sum_dx += d * want_xhat[r * n + j];
            dmax = std::max(dmax, std::fabs(d));
        }
        for (int j = 0; j < n; j++) {
            double xh = want_xhat[r * n + j], gj = g0[r * n + j];
            double want = want_s[r] / n * (n * gb[j] * gj - sum_d - xh * sum_dx);
            // Three terms of size n·max|γ·g| cancel: their f32 rounding, scaled by s/n.
            deltas &= std::fabs(g[r * n + j] - want) <= 1e-5 * want_s[r] * dmax * (1 + std::fabs(xh));
            products &= std::fabs(xhat[r * n + j] - gj * xh) <= 1e-5 * std::fabs(gj) * (1 + std::fabs(xh));
        }
    }
    expect(deltas, "∂E/∂h' = s/n·(n·γ·g − Σγ·g − ĥ·Σγ·g·ĥ)");
    expect(products, "ĥ becomes g·ĥ, whose column sums are ∂E/∂γ");
}

// batch_norm_forward and batch_norm_backward on `rows` rows of n units, against batch_norm.rs's
// formulas in f64: the batch's statistics, ĥ, u, the running statistics' update (none for a lone
// row), and ∂E/∂h', ∂E/∂γ, ∂E/∂β; column 1 is constant, so that its σ² = 0 (ĥ = 0, u = β).
static void batch_norm(int rows, int n, unsigned grid, bool bias) {
    std::printf("batch normalisation: %d × %d, %u blocks%s\n", rows, n, grid, bias ? ", bias added" : "");
    std::mt19937 rng(23);
    std::normal_distribution<float> normal(0.f, 1.f);
    const float eps = 1e-5f, momentum = 0.1f, keep = 0.9f;
    std::vector<float> z(rows * n), b(n), gb(2 * n), xhat(rows * n, -9.f), inv_std(n, -9.f), g(rows * n);
    std::vector<float> running(2 * n), dgb(2 * n, -9.f);
    for (auto& v : z) v = 1.5f + 2 * normal(rng);
    // Biases in eighths, so that column 1 stays exactly constant once its bias is added.
    for (auto& v : b) v = std::round(4 * normal(rng)) / 8;
    for (int r = 0; r < rows; r++) z[r * n + 1] = bias ? 0.75f - b[1] : 0.75f;
    for (auto& v : gb) v = normal(rng);
    for (auto& v : g) v = normal(rng);
    for (int j = 0; j < n; j++) running[j] = 0.1f * normal(rng), running[n + j] = 1 + 0.5f * std::fabs(normal(rng));
    auto z0 = z, g0 = g, running0 = running;
    launch(grid, 256, batch_norm_forward, z.data(), (const float*)(bias ? b.data() : nullptr), (const float*)gb.data(),
           xhat.data(), inv_std.data(), running.data(), rows, n, eps, momentum, keep);
    bool stats = true, xhats = true, us = true, flat = true, runs = true;
    std::vector<double> want_xhat(rows * n), want_s(n);
    for (int j = 0; j < n; j++) {
        std::vector<double> h(rows);
        for (int r = 0; r < rows; r++) h[r] = (double)z0[r * n + j] + (bias ? b[j] : 0.f);
        auto [mean, var, s] = moments(h, eps);
        want_s[j] = s;
        stats &= std::fabs(inv_std[j] - s) <= 1e-5 * s * (1 + std::fabs(mean));
        double size = 1 + s * std::fabs(mean);  // h' − μ cancels: its error is μ's, times s
        for (int r = 0; r < rows; r++) {
            double xh = (h[r] - mean) * s, u = gb[j] * xh + gb[n + j];
            want_xhat[r * n + j] = xh;
            xhats &= std::fabs(xhat[r * n + j] - xh) <= 1e-5 * size;
            us &= std::fabs(z[r * n + j] - u) <= 1e-5 * size * (1 + std::fabs(gb[j]));
            if (j == 1 || rows == 1) flat &= xhat[r * n + j] == 0.f && z[r * n + j] == gb[n + j];
        }
        double want_mean = rows > 1 ? 0.9 * running0[j] + 0.1 * mean : running0[j];
        double want_var = rows > 1 ? 0.9 * running0[n + j] + 0.1 * var * rows / (rows - 1) : running0[n + j];
        runs &= std::fabs(running[j] - want_mean) <= 1e-5 * (1 + std::fabs(mean));
        runs &= std::fabs(running[n + j] - want_var) <= 1e-5 * (1 + var);
    }
    expect(stats, "s = 1/√(σ² + ε) of each column, over the batch");
    expect(xhats, "ĥ = (h' − μ)·s kept for the backward pass");
    expect(us, "u = γ·ĥ + β over z");
    expect(flat, rows == 1 ? "a lone row: ĥ = 0, u = β exactly" : "a constant column: ĥ = 0, u = β exactly");
    expect(runs, rows == 1 ? "a lone row leaves the running statistics" : "running ← 0.9·running + 0.1·(μ, σ²·B/(B − 1))");

    launch(grid, 256, batch_norm_backward, g.data(), (const float*)xhat.data(), (const float*)inv_std.data(),
           (const float*)gb.data(), dgb.data(), rows, n);
    bool deltas = true, sums = true;
    for (int j = 0; j < n; j++) {
        double dgamma = 0, dbeta = 0, gmax = 0;
        for (int r = 0; r < rows; r++) {
            double gj = g0[r * n + j];
            dgamma += gj * want_xhat[r * n + j];
            dbeta += gj;
            gmax = std::max(gmax, std::fabs(gj));
        }
        // Sums of B terms of size max|g|·max|ĥ| (|ĥ| ≤ √B): B units of f32's 6e-8 of that.
        double size = rows * gmax * (1 + std::sqrt((double)rows));
        sums &= std::fabs(dgb[j] - dgamma) <= 1e-6 * size && std::fabs(dgb[n + j] - dbeta) <= 1e-6 * size;
        for (int r = 0; r < rows; r++) {
            double xh = want_xhat[r * n + j];
            double want = gb[j] * want_s[j] / rows * (rows * (double)g0[r * n + j] - dbeta - xh * dgamma);
            deltas &= std::fabs(g[r * n + j] - want) <= 1e-6 * std::fabs(gb[j]) * want_s[j] * size / rows * (1 + std::fabs(xh));
        }
    }
    expect(sums, "∂E/∂γ = Σ g·ĥ and ∂E/∂β = Σ g over the batch");
    expect(deltas, "∂E/∂h' = γ·s/B·(B·g − Σg − ĥ·Σg·ĥ)");
}

int main() {
    pinned();
    layer("ReLU", ACT_RELU, 0.5, 37, 13, 16, 2);
    layer("sigmoid, one block strides twice", ACT_SIGMOID, 0.3, 29, 20, 20, 1);
    layer("GELU, a small rate", ACT_GELU, 0.05, 16, 9, 12, 3);
    layer("SiLU", ACT_SILU, 0.2, 21, 11, 12, 2);
    layer("SELU", ACT_SELU, 0.1, 17, 13, 14, 2);
    weighted("softmax cross-entropy", ACT_SOFTMAX, LOSS_CE, 5);
    weighted("sigmoid binary cross-entropy", ACT_SIGMOID, LOSS_BCE, 1);
    weighted("identity MSE", ACT_IDENTITY, LOSS_MSE, 3);
    multi_label(3, false);
    multi_label(40, false);  // more labels than a warp has lanes
    multi_label(5, true);
    multi_label(40, true);
    smoothed(4, 0.1f);
    smoothed(37, 0.25f);  // more classes than a warp has lanes
    layer_norm(7, 20, 1, false);
    layer_norm(37, 45, 2, true);  // more units than a warp has lanes, more rows than warps
    layer_norm(9, 128, 1, true);
    batch_norm(37, 45, 1, false);  // two tiles of columns, one block striding over them
    batch_norm(70, 100, 2, true);
    batch_norm(5, 20, 1, true);    // fewer rows than row groups
    batch_norm(1, 12, 1, true);    // a lone last row
    if (failures) {
        std::printf("%d checks FAILED\n", failures);
        return 1;
    }
    std::printf("every layer check agrees\n");
}
