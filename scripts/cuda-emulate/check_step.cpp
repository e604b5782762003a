// Checks the end of a training step in kernels.cu, run on the CPU by emulate.hpp: optimizer_step
// updates every parameter (Adam, against the formula in f64), gathers the next batch of the epoch's
// order (wrapping after the last, which is short), and its last block finishes the step (the
// batch's loss and tally into the epoch's, k and t moved on, its block count back to 0); and
// gather_rows gathers the batch counters[0] names. Fixed seeds.
#include "emulate.hpp"
#include "../../src/cuda/kernels.cu"

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <numeric>
#include <random>

// The layout cuda/mod.rs `batch_plan` writes: the addresses, then the ints from byte 56.
static_assert(offsetof(Batch, x) == 0 && offsetof(Batch, tb) == 48 && offsetof(Batch, batch) == 56 &&
              offsetof(Batch, xs) == 72 && sizeof(Batch) == 80);

static int failures = 0;

static void expect(bool ok, const char* what) {
    std::printf("  %-62s %s\n", what, ok ? "ok" : "FAILED");
    if (!ok) failures++;
}

// Rows `k` of the order, as gather_batch must have copied them (xb's rows xs apart, labels).
static bool gathered(const Batch& b, unsigned k, const std::vector<float>& xb, const std::vector<int>& lb) {
    int rows = std::min(b.batch, b.rows - (int)k * b.batch);
    for (int r = 0; r < rows; r++) {
        unsigned src = b.order[k * b.batch + r];
        if (lb[r] != b.labels[src]) return false;
        for (int j = 0; j < b.cols; j++)
            if (xb[r * b.xs + j] != b.x[src * b.cols + j]) return false;
    }
    return true;
}

static void check(const char* name, int cols, int xs, unsigned k, bool small, unsigned grid) {
    std::printf("%s: batch %u, %u blocks\n", name, k, grid);
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.f, 1.f);
    const int rows_all = 70, batch = 16, batches = 5;  // the last batch has 6 rows
    std::vector<float> x(rows_all * cols);
    for (auto& v : x) v = normal(rng);
    std::vector<unsigned> order(rows_all);
    std::iota(order.begin(), order.end(), 0u);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<int> labels(rows_all);
    for (auto& l : labels) l = rng() % 10;
    std::vector<float> xb(batch * xs, -1.f);
    std::vector<int> lb(batch, -1);
    Batch b{x.data(), order.data(), labels.data(), nullptr, xb.data(), lb.data(), nullptr, batch, rows_all, cols, 0, xs, 0};

    const long n = 1000;
    std::vector<float> w(n), g(n), m1(n), m2(n);
    for (long i = 0; i < n; i++) { w[i] = normal(rng); g[i] = normal(rng); m1[i] = 0.1f * normal(rng); m2[i] = std::fabs(normal(rng)); }
    auto w0 = w, m10 = m1, m20 = m2;
    const int S = 2, rows = std::min(batch, rows_all - (int)k * batch);
    std::vector<float> stats(rows * S), sums(S, 0.f);
    for (auto& v : stats) v = std::fabs(normal(rng));
    for (int r = 0; r < rows; r++)
        for (int q = 0; q < S; q++) sums[q] += stats[r * S + q];
    std::vector<double> epoch(S, 0.5);
    std::vector<float> losses(batches, -1.f);
    unsigned t = 4;
    std::vector<unsigned> counters{k, t, 0};
    double lr = 1e-2, beta1 = 0.9, beta2 = 0.999;
    float eps = 1e-8f;
    launch(grid, 256, optimizer_step, w.data(), (const float*)g.data(), m1.data(), m2.data(),
           (const unsigned char*)nullptr, n, OPT_ADAM, (const double*)&lr, 0.0, 0.f, beta1, beta2, eps,
           counters.data(), (const float*)nullptr, (const Batch*)&b, batches, (const float*)sums.data(),
           (const float*)(small ? stats.data() : nullptr), rows, S, epoch.data(), losses.data());

    // Adam at t + 1, in f64 from the same inputs.
    double worst = 0;
    for (long i = 0; i < n; i++) {
        double m = beta1 * m10[i] + (1 - beta1) * g[i], v = beta2 * m20[i] + (1 - beta2) * (double)g[i] * g[i];
        double mh = m / (1 - std::pow(beta1, t + 1)), vh = v / (1 - std::pow(beta2, t + 1));
        double want = w0[i] - lr * mh / (std::sqrt(vh) + eps);
        worst = std::max(worst, std::fabs(w[i] - want) / (lr + std::fabs(want) * 1e-6));
    }
    // f32 arithmetic of a step of size lr: a few units of f32's 6e-8 of lr and of w.
    expect(worst < 1e-4, "every parameter takes Adam's step");
    expect(gathered(b, (k + 1) % batches, xb, lb), "the next batch of the order is gathered");
    expect(counters[0] == k + 1 && counters[1] == t + 1 && counters[2] == 0, "k and t moved on, the block count back to 0");
    double s0 = 0, s1 = 0;
    for (int r = 0; r < rows; r++) { s0 += stats[r * S]; s1 += stats[r * S + 1]; }
    expect(std::fabs(losses[k] - s0) < 1e-5 * s0, "the batch's loss is the sum of its rows' shares");
    expect(std::fabs(epoch[0] - 0.5 - s0) < 1e-5 * s0 && std::fabs(epoch[1] - 0.5 - s1) < 1e-5 * s1,
           "the tally adds the batch's sums");

    // The gather alone: the batch counters[0] names.
    std::fill(xb.begin(), xb.end(), -1.f);
    std::fill(lb.begin(), lb.end(), -1);
    launch(3, 256, gather_rows, (const Batch*)&b, (const unsigned*)counters.data(), batches);
    expect(gathered(b, counters[0] % batches, xb, lb), "gather_rows gathers batch counters[0]");
}

int main() {
    check("16-byte rows, the tally reduced here", 12, 16, 1, true, 4);
    check("odd widths, the tally summed by cuBLAS", 7, 7, 3, false, 3);  // the next batch is the short one
    check("the last batch: the next is the first again", 12, 13, 4, true, 1);
    if (failures) {
        std::printf("%d checks FAILED\n", failures);
        return 1;
    }
    std::printf("every step-end check agrees\n");
}
