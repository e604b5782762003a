//! The CUDA backend (feature `cuda`): the training loop's step on an NVIDIA GPU.
//!
//! The driver, cuBLAS and NVRTC are loaded at run time through `cudarc`, so this builds without a
//! CUDA toolkit and the binary runs (on the CPU) where there is none. The kernels in `kernels.cu`
//! are compiled by NVRTC for the GPU found, once per run.
//!
//! A run ([`Run`]) uploads the training set once and keeps it, the parameters, the gradients, the
//! optimizer's moments and every activation buffer on the GPU. One step is, for a network of L
//! layers (the same data path as on the CPU, `network.rs`):
//!
//! ```text
//! (gather_rows                         the epoch's first batch → x, labels; before the first step)
//! per layer:  cuBLAS  h' = x·W         [layer_norm_forward (a warp per row) or batch_norm_forward
//!                                      (32 columns a block): h' ← γ·ĥ + β]
//!                                      then bias_activation (hidden) or output_layer (last:
//!                                      bias, Φ, loss, δ and the row's tally, one warp per row)
//! cuBLAS gemv  Σ over rows of the tally rows (one product with a vector of ones)
//! per layer, last first:  cuBLAS ∂E/∂W = xᵀ·δ,  gemv ∂E/∂b = δᵀ·1,  ∂E/∂x = δ·Wᵀ,
//!                         activation_backward  δ ← ∂E/∂x ⊙ Φ'(h')
//!                         [gemv ∂E/∂β = δᵀ·1, layer_norm_backward δ ← ∂E/∂h', gemv ∂E/∂γ;
//!                          or batch_norm_backward: ∂E/∂γ, ∂E/∂β, δ ← ∂E/∂h']
//! [sum_squares, clip_factor]           gradient clipping
//! optimizer_step                       one thread per parameter over the flat buffer; the next
//!                                      batch gathered; its last block: the batch's loss and tally
//!                                      into the epoch's, k and t += 1
//! ```
//!
//! Narrow networks (every width ≤ 128, hidden activations whose Φ' needs only Φ(h')) at large
//! batches take the fused path instead: one kernel for the whole forward pass, one for the
//! backward pass's δ of every layer, the activations of a tile of rows kept in shared memory from
//! layer to layer (see [`Fused`] and `fused_forward` in kernels.cu); cuBLAS still makes ∂E/∂W.
//!
//! The batch index and the step count live in device memory, so the step is captured once as a CUDA
//! graph (per batch size: full batches, and a smaller last one) and replayed; nothing waits for
//! the GPU inside an epoch. After the epoch the host reads the per-batch losses and the tally.

use std::sync::Arc;

use cudarc::cublas::sys as blas;
use cudarc::driver::sys as drv;
use cudarc::driver::{
    CudaContext, CudaFunction, CudaGraph, CudaSlice, CudaStream, DevicePtr, DeviceRepr,
    LaunchConfig, PushKernelArg, ValidAsZeroBits,
};

use crate::activation::Activation;
use crate::data::{Dataset, Targets};
use crate::dense::{Norm, Normalization};
use crate::device::{DeviceEpoch, Matmul};
use crate::dropout::{self, Draw};
use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::network::Network;
use crate::optim::{Optimizer, OptimizerState};
use crate::tensor::Float;
use crate::train::TrainConfig;

const KERNELS: &str = include_str!("kernels.cu");

fn device_error(ordinal: usize, message: impl Into<String>) -> Error {
    Error::Device {
        device: format!("cuda:{ordinal}"),
        message: message.into(),
    }
}

/// Whether `cuda:ordinal` can train here: the libraries load and the GPU exists.
pub fn check(ordinal: usize) -> Result<()> {
    // SAFETY: these only try to open the shared libraries.
    let (driver, cublas, nvrtc) = unsafe {
        (
            drv::is_culib_present(),
            blas::is_culib_present(),
            cudarc::nvrtc::sys::is_culib_present(),
        )
    };
    if !driver {
        return Err(device_error(
            ordinal,
            "no NVIDIA driver found (libcuda.so.1 did not load); this machine has no usable NVIDIA GPU",
        ));
    }
    for (present, lib) in [
        (cublas, "cuBLAS (libcublas.so.13)"),
        (nvrtc, "NVRTC (libnvrtc.so.13)"),
    ] {
        if !present {
            return Err(device_error(
                ordinal,
                format!("{lib} did not load; install the CUDA 13 libraries or add their folder to LD_LIBRARY_PATH"),
            ));
        }
    }
    let count = CudaContext::device_count()
        .map_err(|e| device_error(ordinal, format!("the CUDA driver did not start: {e}")))?;
    if ordinal >= count.max(0) as usize {
        return Err(device_error(
            ordinal,
            format!("this machine has {count} CUDA device(s)"),
        ));
    }
    Ok(())
}

/// The kernels' PTX for compute capability `major.minor`, compiled once per process.
fn compiled(major: i32, minor: i32) -> std::result::Result<String, String> {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static CACHE: OnceLock<Mutex<HashMap<(i32, i32), String>>> = OnceLock::new();
    let mut cache = CACHE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(p) = cache.get(&(major, minor)) {
        return Ok(p.clone());
    }
    let ptx = cudarc::nvrtc::compile_ptx_with_opts(
        KERNELS,
        cudarc::nvrtc::CompileOptions {
            options: vec![format!("--gpu-architecture=compute_{major}{minor}")],
            ..Default::default()
        },
    )
    .map_err(|x| format!("{x:?}"))?
    .to_src();
    cache.insert((major, minor), ptx.clone());
    Ok(ptx)
}

/// The context, the stream everything runs on, the cuBLAS handle and the compiled kernels.
struct Gpu {
    ordinal: usize,
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    blas: cudarc::cublas::CudaBlas,
    /// cuBLAS's own scratch memory, given to it so that its calls can be captured in a graph.
    _workspace: CudaSlice<u8>,
    /// How the products multiply: bf16 goes through `cublasGemmEx` (see `gemm`).
    matmul: Matmul,
    sms: u32,
    gather_rows: CudaFunction,
    bias_activation: CudaFunction,
    activation_backward: CudaFunction,
    layer_norm_forward: CudaFunction,
    layer_norm_backward: CudaFunction,
    batch_norm_forward: CudaFunction,
    batch_norm_backward: CudaFunction,
    output_layer: CudaFunction,
    sum_squares: CudaFunction,
    clip_factor: CudaFunction,
    optimizer_step: CudaFunction,
    fused_forward: CudaFunction,
    fused_backward: CudaFunction,
    fused_forward_tf32: CudaFunction,
    fused_backward_tf32: CudaFunction,
    fused_bias_sums: CudaFunction,
    /// The compute capability's major number (tensor-core TF32 from 8 on).
    major: i32,
}

impl Gpu {
    fn new(ordinal: usize, matmul: Matmul) -> Result<Self> {
        check(ordinal)?;
        let e = |what: &str, err: &dyn std::fmt::Display| {
            device_error(ordinal, format!("{what}: {err}"))
        };
        let ctx = CudaContext::new(ordinal).map_err(|x| e("cannot open the GPU", &x))?;
        // One stream, used in order: cudarc's per-buffer event tracking (for several streams) is
        // not needed, and its events could not be captured in a graph.
        // SAFETY: every buffer of a run is used on this one stream only.
        unsafe { ctx.disable_event_tracking() };
        // A stream of our own: the legacy default stream cannot be captured.
        let stream = ctx
            .new_stream()
            .map_err(|x| e("cannot make a stream", &x))?;
        let (major, minor) = ctx
            .compute_capability()
            .map_err(|x| e("cannot read the compute capability", &x))?;
        let sms = ctx
            .attribute(drv::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(|x| e("cannot read the multiprocessor count", &x))? as u32;
        let ptx =
            compiled(major, minor).map_err(|x| e("NVRTC could not compile the kernels", &x))?;
        let module = ctx
            .load_module(cudarc::nvrtc::Ptx::from_src(ptx))
            .map_err(|x| e("cannot load the kernels", &x))?;
        let f = |name: &str| {
            module
                .load_function(name)
                .map_err(|x| e(&format!("kernel {name}"), &x))
        };
        let blas = cudarc::cublas::CudaBlas::new(stream.clone())
            .map_err(|x| e("cannot start cuBLAS", &x))?;
        const WORKSPACE: usize = 32 << 20;
        let workspace = stream
            .alloc_zeros::<u8>(WORKSPACE)
            .map_err(|x| e("cannot allocate cuBLAS's workspace", &x))?;
        let mode = match matmul {
            Matmul::F32 | Matmul::Bf16 => blas::cublasMath_t::CUBLAS_DEFAULT_MATH,
            Matmul::Tf32 => blas::cublasMath_t::CUBLAS_TF32_TENSOR_OP_MATH,
        };
        // SAFETY: a live handle, and a buffer that lives as long as it (both in `Gpu`).
        unsafe {
            let h = *blas.handle();
            blas::cublasSetWorkspace_v2(h, raw(&workspace, &stream) as *mut _, WORKSPACE)
                .result()
                .map_err(|x| e("cannot give cuBLAS its workspace", &x))?;
            blas::cublasSetMathMode(h, mode)
                .result()
                .map_err(|x| e("cannot set cuBLAS's math mode", &x))?;
        }
        Ok(Gpu {
            ordinal,
            gather_rows: f("gather_rows")?,
            bias_activation: f("bias_activation")?,
            activation_backward: f("activation_backward")?,
            layer_norm_forward: f("layer_norm_forward")?,
            layer_norm_backward: f("layer_norm_backward")?,
            batch_norm_forward: f("batch_norm_forward")?,
            batch_norm_backward: f("batch_norm_backward")?,
            output_layer: f("output_layer")?,
            sum_squares: f("sum_squares")?,
            clip_factor: f("clip_factor")?,
            optimizer_step: f("optimizer_step")?,
            fused_forward: f("fused_forward")?,
            fused_backward: f("fused_backward")?,
            fused_forward_tf32: f("fused_forward_tf32")?,
            fused_backward_tf32: f("fused_backward_tf32")?,
            fused_bias_sums: f("fused_bias_sums")?,
            major,
            _workspace: workspace,
            matmul,
            blas,
            sms,
            stream,
            ctx,
        })
    }

    fn err(&self, what: &str, err: impl std::fmt::Display) -> Error {
        device_error(self.ordinal, format!("{what}: {err}"))
    }

    fn alloc<T: DeviceRepr + ValidAsZeroBits>(&self, n: usize) -> Result<CudaSlice<T>> {
        self.stream.alloc_zeros::<T>(n.max(1)).map_err(|x| {
            self.err(
                &format!(
                    "cannot allocate {} MiB on the GPU",
                    (n * std::mem::size_of::<T>()) >> 20
                ),
                x,
            )
        })
    }

    fn upload<T: DeviceRepr + ValidAsZeroBits>(&self, host: &[T]) -> Result<CudaSlice<T>> {
        let mut d = self.alloc::<T>(host.len())?;
        if !host.is_empty() {
            self.stream
                .memcpy_htod(host, &mut d)
                .map_err(|x| self.err("cannot copy to the GPU", x))?;
        }
        Ok(d)
    }

    fn download<T: DeviceRepr>(&self, d: &CudaSlice<T>, n: usize) -> Result<Vec<T>> {
        let mut v = self
            .stream
            .clone_dtoh(d)
            .map_err(|x| self.err("cannot copy from the GPU", x))?;
        self.sync()?;
        v.truncate(n);
        Ok(v)
    }

    fn sync(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(|x| self.err("the GPU reported an error", x))
    }

    /// A grid-stride launch over n elements: enough blocks to fill the GPU, no more.
    fn elementwise(&self, n: usize) -> LaunchConfig {
        blocks(n.div_ceil(256).clamp(1, self.sms as usize * 16) as u32)
    }

    /// C = A·B for row-major matrices (cuBLAS is column-major: it computes Cᵀ = Bᵀ·Aᵀ, which is the
    /// same memory). `a` is `[m × k]` (or its transpose stored `[k × m]` with `ta`), `b` is `[k × n]`
    /// (or `[n × k]` with `tb`), `c` is `[m × n]`; each given as (address, floats between rows).
    fn gemm(
        &self,
        (m, n, k): (usize, usize, usize),
        (a, lda): (u64, usize),
        ta: Trans,
        (b, ldb): (u64, usize),
        tb: Trans,
        (c, ldc): (u64, usize),
    ) -> Result<()> {
        let op = |t: Trans| match t {
            Trans::No => blas::cublasOperation_t::CUBLAS_OP_N,
            Trans::Yes => blas::cublasOperation_t::CUBLAS_OP_T,
        };
        let (one, zero) = (1.0f32, 0.0f32);
        if self.matmul == Matmul::Bf16 {
            // f32 in memory, bf16 inside the product: the compute type says so, the data types not.
            let f32_t = blas::cudaDataType::CUDA_R_32F;
            // SAFETY: as below.
            return unsafe {
                cudarc::cublas::result::gemm_ex(
                    *self.blas.handle(),
                    op(tb),
                    op(ta),
                    n as i32,
                    m as i32,
                    k as i32,
                    (&one as *const f32).cast(),
                    b as *const _,
                    f32_t,
                    ldb as i32,
                    a as *const _,
                    f32_t,
                    lda as i32,
                    (&zero as *const f32).cast(),
                    c as *mut _,
                    f32_t,
                    ldc as i32,
                    blas::cublasComputeType_t::CUBLAS_COMPUTE_32F_FAST_16BF,
                    blas::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
                )
            }
            .map_err(|x| self.err("cuBLAS gemmEx (bf16)", x));
        }
        // SAFETY: the pointers are live buffers of the run, sized by the plan for these shapes.
        unsafe {
            cudarc::cublas::result::sgemm(
                *self.blas.handle(),
                op(tb),
                op(ta),
                n as i32,
                m as i32,
                k as i32,
                &one,
                b as *const f32,
                ldb as i32,
                a as *const f32,
                lda as i32,
                &zero,
                c as *mut f32,
                ldc as i32,
            )
        }
        .map_err(|x| self.err("cuBLAS sgemm", x))
    }

    /// y = Σ over the rows of the row-major `[rows × cols]` matrix `a` (a product with `ones`).
    fn column_sums(&self, a: u64, rows: usize, cols: usize, ones: u64, y: u64) -> Result<()> {
        let (one, zero) = (1.0f32, 0.0f32);
        // SAFETY: as for gemm; `ones` holds at least `rows` ones.
        unsafe {
            blas::cublasSgemv_v2(
                *self.blas.handle(),
                blas::cublasOperation_t::CUBLAS_OP_N,
                cols as i32,
                rows as i32,
                &one,
                a as *const f32,
                cols as i32,
                ones as *const f32,
                1,
                &zero,
                y as *mut f32,
                1,
            )
            .result()
        }
        .map_err(|x| self.err("cuBLAS sgemv", x))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Trans {
    No,
    Yes,
}

/// A one-dimensional launch of `n` blocks of 256 threads (every kernel here is written for 256).
fn blocks(n: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (n, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// One warp per row, 8 to a block (as `output_layer` and `layer_norm_forward` take rows), the
/// grid capped: the kernels stride over the rows beyond it.
fn warp_rows(rows: usize) -> LaunchConfig {
    blocks(rows.div_ceil(8).min(8192) as u32)
}

/// Blocks of 32 columns (BN_COLS in kernels.cu), as batch normalisation's kernels take them.
fn column_tiles(cols: usize) -> LaunchConfig {
    blocks(cols.div_ceil(32).min(8192) as u32)
}

/// kernels.cu's `Dropout`, passed by value to the kernels of a hidden layer; a null `epoch_key`
/// for a layer that drops nothing.
#[repr(C)]
#[derive(Clone, Copy)]
struct DropoutArg {
    epoch_key: u64,
    counters: u64,
    threshold: u64,
    batches: i32,
    layer: i32,
    keep: f32,
    pad: i32,
}

// SAFETY: plain data laid out as C lays out kernels.cu's `Dropout` (a test checks the size).
unsafe impl DeviceRepr for DropoutArg {}

/// The raw device address of a buffer (event tracking is off, so nothing is recorded).
fn raw<T>(s: &CudaSlice<T>, stream: &CudaStream) -> u64 {
    s.device_ptr(stream).0
}

fn activation_code(act: &Activation) -> std::result::Result<(i32, f32), String> {
    Ok(match act {
        Activation::Identity => (0, 0.0),
        Activation::Sigmoid => (1, 0.0),
        Activation::Tanh => (2, 0.0),
        Activation::Relu => (3, 0.0),
        Activation::LeakyRelu(a) => (4, *a as f32),
        Activation::Elu(a) => (5, *a as f32),
        Activation::Gelu => (6, 0.0),
        Activation::Softplus => (7, 0.0),
        Activation::Softmax => (8, 0.0),
        Activation::Silu => (9, 0.0),
        Activation::Selu => (10, 0.0),
        Activation::Custom(c) => {
            return Err(format!(
                "the custom activation {} runs on the CPU only",
                c.name()
            ))
        }
    })
}

fn loss_code(loss: &Loss) -> std::result::Result<(i32, f32), String> {
    Ok(match loss {
        Loss::MeanSquaredError => (0, 0.0),
        Loss::HalfSquaredError => (1, 0.0),
        Loss::MeanAbsoluteError => (2, 0.0),
        Loss::Huber(d) => (3, *d as f32),
        Loss::BinaryCrossEntropy => (4, 0.0),
        Loss::CrossEntropy => (5, 0.0),
        Loss::SmoothedCrossEntropy(e) => (5, *e as f32),
        Loss::Custom(c) => {
            return Err(format!("the custom loss {} runs on the CPU only", c.name()))
        }
    })
}

/// A `[rows × stride]` buffer of zeros with ones in column `width`: the inputs of a layer with
/// biases. With a constant 1 after its inputs x, the layer's product is [x 1]·[W; b] = x·W + b,
/// and the gradient of that product, [x 1]ᵀ·δ, is [∂E/∂W; ∂E/∂b] — the bias costs no launch either
/// way, and [W; b] is exactly how the flat parameter buffer stores a layer. The rows are padded to a
/// multiple of 4 floats, so that cuBLAS can use its 16-byte-aligned kernels.
fn with_ones(rows: usize, width: usize, stride: usize) -> Vec<f32> {
    let mut v = vec![0.0f32; rows * stride];
    for r in 0..rows {
        v[r * stride + width] = 1.0;
    }
    v
}

/// One layer as the GPU sees it.
struct LayerPlan {
    inputs: usize,
    outputs: usize,
    act: i32,
    alpha: f32,
    /// 1 when Φ' needs h' itself, not only Φ(h') (see `bias_activation`), or the layer drops.
    keep_z: i32,
    /// Dropout after this layer: (threshold, 1/(1 − p) in f32), see `Dropout` in kernels.cu.
    drop: Option<(u64, f32)>,
    /// Floats between rows of `a`: with biases, a hidden layer's h has one more column holding
    /// the constant 1 that the next layer's bias multiplies (see `with_ones`).
    stride: usize,
    weight: usize,
    bias: Option<usize>,
    /// h' and δ, `[batch × outputs]`; h = Φ(h'), `[batch × stride]`. With layer normalisation,
    /// z holds u = LN(h'), which Φ takes.
    z: CudaSlice<f32>,
    a: CudaSlice<f32>,
    delta: CudaSlice<f32>,
    /// Normalisation between the product and Φ (`layer_norm_forward`, `batch_norm_forward` in
    /// kernels.cu).
    norm: Option<NormPlan>,
}

/// A normalised layer's part of the plan: the layer's own `Norm` (how it normalises, where γ lies
/// in the flat buffer with β after it, and batch normalisation's running mean and variance in
/// `Run::running`), and what the backward pass reads of the forward's: ĥ (`[batch × outputs]`)
/// and s = 1/√(σ² + ε), one a row (layer normalisation, `[batch]`) or one a column (batch
/// normalisation, `[outputs]`).
struct NormPlan {
    norm: Norm,
    xhat: CudaSlice<f32>,
    inv_std: CudaSlice<f32>,
}

/// Rows of a tile, the widest layer of the fused kernels, and the ints that describe a layer to them
/// (FUSED_ROWS, FUSED_MAX and FUSED_META in kernels.cu; a test checks that both say the same).
const FUSED_ROWS: usize = 64;
const FUSED_MAX: usize = 128;
const FUSED_META: usize = 7;
/// The smallest batch the fused path is chosen for by itself. Below it a step is a few small
/// launches either way; from it up, the layer-by-layer path moves each activation through device
/// memory several times, which is what bounds it (0.52 ms a step for 64-wide layers at batch 65536
/// on an H100, ~0.8 GB moved). A first choice, to be measured against both paths on the GPU.
const FUSED_MIN_BATCH: usize = 4096;

/// Whether to take the fused path: the network fits the fused kernels (no bias folded into the
/// products, at least one hidden layer, every width ≤ FUSED_MAX, hidden Φ' from Φ(h') alone, no
/// dropout: the fused kernels draw no masks; no normalisation) and
/// the batch is large — or `MLP_CUDA_FUSED=1` asks for it at any batch, `MLP_CUDA_FUSED=0` never.
fn fused_choice(layers: &[LayerPlan], inputs: usize, fold: bool, batch: usize) -> bool {
    let (last, hidden) = layers.split_last().expect("a network has a layer");
    // Not folded, every h is exactly `outputs` wide, as the kernels read it.
    let fits = !fold
        && !hidden.is_empty()
        && hidden.iter().all(|l| {
            l.keep_z == 0 && l.drop.is_none() && l.norm.is_none() && l.outputs <= FUSED_MAX
        })
        && inputs.max(last.outputs) <= FUSED_MAX;
    match std::env::var("MLP_CUDA_FUSED").as_deref() {
        Ok("0") => false,
        Ok("1") => fits,
        _ => fits && batch >= FUSED_MIN_BATCH,
    }
}

/// The fused kernels of either kind: [forward, backward], with TF32 products or f32 ones.
fn fused_kernels(gpu: &Gpu, tf32: bool) -> [&CudaFunction; 2] {
    if tf32 {
        [&gpu.fused_forward_tf32, &gpu.fused_backward_tf32]
    } else {
        [&gpu.fused_forward, &gpu.fused_backward]
    }
}

/// The fused path's plan (`fused_forward` and `fused_backward` in kernels.cu): each layer's
/// description and buffers, as the kernels read them, and the shared memory a block needs.
struct Fused {
    /// Per layer: inputs, outputs, W's offset, b's offset (−1: none), activation code, α's bits,
    /// and the offset of its ∂E/∂b in a row of `part` (−1: none).
    meta: CudaSlice<i32>,
    /// Per layer: the address of its output (h, or the last layer's h') and of its δ.
    ptrs: CudaSlice<u64>,
    /// Every Wᵀ, at W's offset: written by `fused_forward`, read by `fused_backward`.
    wt: CudaSlice<f32>,
    /// Per tile of rows, the column sums of every δ of a layer with a bias, `[tiles × biases]`:
    /// written by `fused_backward`, added over the tiles into ∂E/∂b by `fused_bias_sums`.
    part: CudaSlice<f32>,
    /// Biases in all, the width of a row of `part`.
    biases: usize,
    /// Floats between rows of a tile in shared memory: the widest layer rounded up to 8, plus 4.
    ks: i32,
    /// Bytes of shared memory per block: two tiles of activations and one of weights.
    smem: u32,
    /// Whether the kernels' products run on the tensor cores in TF32 (`_tf32`), else in f32.
    tf32: bool,
}

impl Fused {
    /// The plan for `layers`; `None` where this GPU cannot give a block the shared memory (then
    /// the layer-by-layer path runs). With TF32 or bf16 products chosen (`gpu.matmul`), and a GPU
    /// whose tensor cores take TF32, the kernels' products run on them in TF32 (bf16's products
    /// are rounded more coarsely than that: TF32 keeps within what was asked).
    fn new(
        gpu: &Gpu,
        layers: &[LayerPlan],
        (inputs, n_params, batch): (usize, usize, usize),
    ) -> Result<Option<Self>> {
        let tf32 = gpu.matmul != Matmul::F32 && gpu.major >= 8;
        let widest = layers.iter().map(|l| l.outputs).fold(inputs, usize::max);
        let ks = widest.next_multiple_of(8) + 4;
        // The weight tile of either kind of kernel fits [round8(w) × (round32(w) + 8)] (kernels.cu).
        let weights = widest.next_multiple_of(8) * (widest.next_multiple_of(32) + 8);
        let smem = (4 * (2 * FUSED_ROWS * ks + weights)) as u32;
        let max_smem = drv::CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
        if smem > 48 << 10
            && fused_kernels(gpu, tf32)
                .iter()
                .any(|f| f.set_attribute(max_smem, smem as i32).is_err())
        {
            return Ok(None);
        }
        let s = &gpu.stream;
        let offset = |o: usize| i32::try_from(o).expect("a network narrow enough to fuse");
        let mut meta = Vec::with_capacity(FUSED_META * layers.len());
        let mut ptrs = Vec::with_capacity(2 * layers.len());
        let last = layers.len() - 1;
        let mut biases = 0;
        for (k, l) in layers.iter().enumerate() {
            meta.extend([
                l.inputs as i32,
                l.outputs as i32,
                offset(l.weight),
                l.bias.map_or(-1, offset),
                l.act,
                l.alpha.to_bits() as i32,
                l.bias.map_or(-1, |_| offset(biases)),
            ]);
            if l.bias.is_some() {
                biases += l.outputs;
            }
            ptrs.push(raw(if k < last { &l.a } else { &l.z }, s));
            ptrs.push(raw(&l.delta, s));
        }
        debug_assert_eq!(meta.len(), FUSED_META * layers.len());
        Ok(Some(Fused {
            meta: gpu.upload(&meta)?,
            ptrs: gpu.upload(&ptrs)?,
            wt: gpu.alloc(n_params)?,
            part: gpu.alloc(batch.div_ceil(FUSED_ROWS) * biases)?,
            biases,
            ks: ks as i32,
            smem,
            tf32,
        }))
    }

    /// This plan's kernels: (forward, backward).
    fn kernels<'g>(&self, gpu: &'g Gpu) -> [&'g CudaFunction; 2] {
        fused_kernels(gpu, self.tf32)
    }

    /// One block of 256 threads per tile of rows.
    fn launch(&self, rows: usize) -> LaunchConfig {
        LaunchConfig {
            shared_mem_bytes: self.smem,
            ..blocks(rows.div_ceil(FUSED_ROWS) as u32)
        }
    }
}

/// A training run on the GPU: the data, the network, its optimizer state and every buffer a step
/// needs, planned for one batch size.
pub struct Run {
    gpu: Gpu,
    layers: Vec<LayerPlan>,
    n_params: usize,
    batch: usize,
    rows: usize,
    batches: usize,
    cols: usize,
    outputs: usize,
    /// Figures per row in the tally: loss share, correct, then (y−d)² per output with values.
    stats_cols: usize,
    loss: (i32, f32),
    rule: i32,
    mu: f32,
    betas: (f64, f64),
    eps: f32,
    weight_decay: f64,
    clip: Option<f64>,
    x: CudaSlice<f32>,
    labels: Option<CudaSlice<i32>>,
    targets: Option<CudaSlice<f32>>,
    /// The target values again, for the Σd and Σd² of R² (constants of the rows, summed here).
    host_targets: Option<Vec<f64>>,
    /// One loss weight per class, or per label for its positive rows (`TrainConfig::class_weight`,
    /// see `output_layer`); none: every row counts 1.
    class_w: Option<CudaSlice<f32>>,
    /// 1 when the targets are labels (multi-label classification): see `output_layer`.
    multi_label: i32,
    /// The run's seed, and the epoch's part of the dropout masks' key (dropout.rs
    /// `Draw::epoch_key`), written at each epoch's start.
    seed: u64,
    dropout_key: CudaSlice<u64>,
    order: CudaSlice<u32>,
    /// `Batch` in kernels.cu: what the batch gather reads and writes (see `batch_plan`).
    plan: CudaSlice<u8>,
    /// The batch's rows, `[batch × xs]` (with biases, column `cols` holds 1: see `with_ones`).
    xb: CudaSlice<f32>,
    xs: usize,
    /// Whether the biases ride in the products (small batches), or are added and summed by kernels.
    fold: bool,
    /// The fused path's plan, when this network and batch take it.
    fused: Option<Fused>,
    lb: CudaSlice<i32>,
    tb: CudaSlice<f32>,
    params: CudaSlice<f32>,
    /// Batch normalisation's running means and variances (`Network::buffers`), when it has any.
    running: Option<CudaSlice<f32>>,
    grads: CudaSlice<f32>,
    m1: CudaSlice<f32>,
    m2: CudaSlice<f32>,
    decay: Option<CudaSlice<u8>>,
    ones: CudaSlice<f32>,
    stats: CudaSlice<f32>,
    sums: CudaSlice<f32>,
    counters: CudaSlice<u32>,
    lr: CudaSlice<f64>,
    losses: CudaSlice<f32>,
    epoch: CudaSlice<f64>,
    clip_partial: CudaSlice<f64>,
    clip_scale: CudaSlice<f32>,
    /// Captured steps, by batch rows.
    graphs: Vec<(usize, CudaGraph)>,
    use_graphs: bool,
}

const CLIP_BLOCKS: u32 = 256;
/// Bytes of kernels.cu's `Batch`: 7 addresses and 6 ints (kernels.cu asserts its size too).
const BATCH_PLAN_BYTES: usize = 7 * 8 + 6 * 4;

impl Run {
    /// Uploads `train`, the network's parameters and the optimizer's state, and plans every buffer
    /// for batches of `batch` rows; `loss` with its class or label weights (the trainer's, from
    /// `ClassWeight::for_data`; empty: none).
    pub fn new<T: Float>(
        net: &Network<T>,
        (loss, class_weights): (&Loss, &[T]),
        config: &TrainConfig,
        state: &OptimizerState<T>,
        train: &Dataset<T>,
        batch: usize,
    ) -> Result<Self> {
        let ordinal = match config.device {
            crate::Device::Cuda(n) => n,
            crate::Device::Cpu => return Err(Error::config("a GPU run on the CPU device")),
        };
        let gpu = Gpu::new(ordinal, config.matmul)?;
        let unsupported = |m: String| device_error(ordinal, m);
        let loss_c = loss_code(loss).map_err(unsupported)?;
        let f32s = |v: &[T]| v.iter().map(|x| x.f64() as f32).collect::<Vec<f32>>();
        let rows = train.len();
        let batch = batch.clamp(1, rows.max(1));
        let outputs = net.outputs();
        // Biases ride in the products (see `with_ones`): each layer's b must follow its W in the
        // flat buffer, as `NetworkSpec::build` lays them out, so that [W; b] is one matrix.
        // Small batches fold the biases into the products (see `with_ones`): a step of them is
        // bound by its number of launches, and this saves one per layer. Large batches keep the
        // products' shapes exact, since an inner dimension of 2049 for 2048 costs cuBLAS a tile
        // row and its 16-byte alignment (measured on an H100: a 64-wide layer's ∂E/∂W took 40 µs
        // instead of 23 at batch 65536, and TF32 products of width 2048 ran 1.5× slower).
        let fold = net.has_bias()
            && batch <= 1024
            && net
                .layers
                .iter()
                .all(|l| l.bias_offset.is_none_or(|o| o == l.weight_range().end));
        let stride_for = |width: usize| {
            if fold {
                (width + 1).next_multiple_of(4)
            } else {
                width
            }
        };
        let last = net.layers.len() - 1;
        let mut layers = Vec::with_capacity(net.layers.len());
        for (k, l) in net.layers.iter().enumerate() {
            let (act, alpha) = activation_code(&l.activation).map_err(unsupported)?;
            let p = config.dropout.rate(k, last);
            let drop = (p > 0.0).then(|| (dropout::threshold(p), (1.0 / (1.0 - p)) as f32));
            let norm = match &l.norm {
                None => None,
                Some(nm) => Some(NormPlan {
                    norm: nm.clone(),
                    xhat: gpu.alloc(batch * l.outputs)?,
                    inv_std: gpu.alloc(match nm.kind {
                        Normalization::Layer(_) => batch,
                        Normalization::Batch(_) => l.outputs,
                    })?,
                }),
            };
            let stride = if k < last {
                stride_for(l.outputs)
            } else {
                l.outputs
            };
            layers.push(LayerPlan {
                inputs: l.inputs,
                outputs: l.outputs,
                act,
                alpha,
                keep_z: i32::from(
                    drop.is_some()
                        || match l.activation {
                            Activation::Gelu | Activation::Softplus | Activation::Silu => true,
                            Activation::LeakyRelu(a) => a < 0.0,
                            Activation::Elu(a) => a <= 0.0,
                            _ => false,
                        },
                ),
                drop,
                weight: l.weight_offset,
                bias: l.bias_offset,
                z: gpu.alloc(batch * l.outputs)?,
                a: if k < last && fold {
                    gpu.upload(&with_ones(batch, l.outputs, stride))?
                } else {
                    gpu.alloc(batch * stride)?
                },
                stride,
                delta: gpu.alloc(batch * l.outputs)?,
                norm,
            });
        }
        let xs = stride_for(net.inputs);
        let fused = if fused_choice(&layers, net.inputs, fold, batch) {
            Fused::new(&gpu, &layers, (net.inputs, net.params.len(), batch))?
        } else {
            None
        };
        let (labels, targets, stats_cols) = match &train.y {
            Targets::Classes(c) => {
                let c: Vec<i32> = c.iter().map(|&v| v as i32).collect();
                (Some(gpu.upload(&c)?), None, 2)
            }
            Targets::Values(v) => (None, Some(gpu.upload(&f32s(&v.data))?), 2 + outputs),
            // Labels are values to the loss; their tally counts the rows with every label right.
            Targets::Labels(v) => (None, Some(gpu.upload(&f32s(&v.data))?), 2),
        };
        let class_w = match class_weights {
            [] => None,
            w => Some(gpu.upload(&f32s(w))?),
        };
        let host_targets = match &train.y {
            Targets::Values(v) => Some(v.data.iter().map(|x| x.f64()).collect()),
            Targets::Classes(_) | Targets::Labels(_) => None,
        };
        let multi_label = i32::from(matches!(train.y, Targets::Labels(_)));
        let (rule, mu, betas, eps) = match config.optimizer {
            Optimizer::Sgd => (0, 0.0, (0.0, 0.0), 0.0),
            Optimizer::Momentum(m) => (1, m as f32, (0.0, 0.0), 0.0),
            Optimizer::Nesterov(m) => (2, m as f32, (0.0, 0.0), 0.0),
            Optimizer::Adam(p) => (3, 0.0, (p.beta1, p.beta2), p.eps as f32),
            Optimizer::AdamW(p) => (4, 0.0, (p.beta1, p.beta2), p.eps as f32),
            Optimizer::RmsProp(p) => (5, 0.0, (0.0, p.rho), p.eps as f32),
            // The trainer refuses it first; kept here so that this function never guesses.
            Optimizer::Lbfgs(_) => {
                return Err(Error::Device {
                    device: config.device.to_string(),
                    message: "L-BFGS (--optimizer lbfgs) runs on the CPU only".into(),
                })
            }
        };
        let n = net.params.len();
        let decay = if config.weight_decay != 0.0 {
            let mut mask = vec![0u8; n];
            for l in &net.layers {
                mask[l.weight_range()].fill(1);
            }
            Some(gpu.upload(&mask)?)
        } else {
            None
        };
        let moment = |v: &[T]| -> Result<CudaSlice<f32>> {
            if v.len() == n {
                gpu.upload(&f32s(v))
            } else {
                gpu.alloc(n)
            }
        };
        let batches = rows.div_ceil(batch);
        let step = u32::try_from(state.step)
            .map_err(|_| unsupported("the optimizer's step count is too large".into()))?;
        let mut run = Run {
            x: gpu.upload(&f32s(&train.x.data))?,
            host_targets,
            multi_label,
            class_w,
            seed: config.seed,
            dropout_key: gpu.upload(&[Draw::epoch_key(config.seed, 1)])?,
            labels,
            targets,
            order: gpu.alloc(rows)?,
            plan: gpu.alloc(BATCH_PLAN_BYTES)?,
            xb: if fold {
                gpu.upload(&with_ones(batch, net.inputs, xs))?
            } else {
                gpu.alloc(batch * xs)?
            },
            xs,
            fold,
            fused,
            lb: gpu.alloc(batch)?,
            tb: gpu.alloc(batch * outputs)?,
            params: gpu.upload(&f32s(&net.params))?,
            running: match net.buffers.as_slice() {
                [] => None,
                b => Some(gpu.upload(&f32s(b))?),
            },
            grads: gpu.alloc(n)?,
            m1: moment(&state.m)?,
            m2: moment(&state.v)?,
            decay,
            ones: gpu.upload(&vec![1.0f32; batch])?,
            stats: gpu.alloc(batch * stats_cols)?,
            sums: gpu.alloc(stats_cols)?,
            counters: gpu.upload(&[0u32, step, 0])?,
            lr: gpu.upload(&[config.learning_rate])?,
            losses: gpu.alloc(batches)?,
            epoch: gpu.alloc(stats_cols)?,
            clip_partial: gpu.alloc(CLIP_BLOCKS as usize)?,
            clip_scale: gpu.alloc(1)?,
            graphs: Vec::new(),
            use_graphs: std::env::var("MLP_CUDA_GRAPHS").map_or(true, |v| v != "0"),
            layers,
            n_params: n,
            batch,
            rows,
            batches,
            cols: net.inputs,
            outputs,
            stats_cols,
            loss: loss_c,
            rule,
            mu,
            betas,
            eps,
            weight_decay: config.weight_decay,
            clip: config.clip_grad_norm,
            gpu,
        };
        let plan = run.batch_plan();
        run.gpu
            .stream
            .memcpy_htod(&plan, &mut run.plan)
            .map_err(|x| run.gpu.err("cannot copy to the GPU", x))?;
        run.gpu.sync()?;
        Ok(run)
    }

    /// The GPU's name, as the driver gives it.
    pub fn device_name(&self) -> String {
        self.gpu.ctx.name().unwrap_or_else(|_| "unknown".into())
    }

    /// Whether steps run as replayed CUDA graphs (else launched one by one).
    pub fn uses_graphs(&self) -> bool {
        self.use_graphs
    }

    /// Which kernels a step runs: `layers` (one product per layer), or the fused path for narrow
    /// networks, `fused` (f32 products) or `fused-tf32` (on the tensor cores).
    pub fn kernels(&self) -> &'static str {
        match &self.fused {
            None => "layers",
            Some(f) if f.tf32 => "fused-tf32",
            Some(_) => "fused",
        }
    }

    /// Trains batches `first_batch..` of epoch `epoch` (1-based; it keys the dropout masks) in
    /// `order` (a permutation of the training rows) with learning rate `lr`, waiting for the GPU
    /// once at the end.
    pub fn epoch(
        &mut self,
        order: &[usize],
        (epoch, first_batch): (usize, usize),
        lr: f64,
    ) -> Result<DeviceEpoch> {
        assert_eq!(
            order.len(),
            self.rows,
            "Run::epoch: order of another length"
        );
        let o: Vec<u32> = order.iter().map(|&i| i as u32).collect();
        let s = &self.gpu.stream;
        let e = |x| self.gpu.err("cannot copy to the GPU", x);
        s.memcpy_htod(&o, &mut self.order).map_err(e)?;
        s.memcpy_htod(&[lr], &mut self.lr).map_err(e)?;
        s.memcpy_htod(&[Draw::epoch_key(self.seed, epoch)], &mut self.dropout_key)
            .map_err(e)?;
        s.memcpy_htod(&[first_batch as u32], &mut self.counters.slice_mut(0..1))
            .map_err(e)?;
        s.memset_zeros(&mut self.epoch).map_err(e)?;
        self.gather_first()?;
        for k in first_batch..self.batches {
            let rows = self.batch.min(self.rows - k * self.batch);
            self.step(rows)?;
        }
        let losses = self.gpu.download(&self.losses, self.batches)?;
        let stats = self.gpu.download(&self.epoch, self.stats_cols)?;
        let m = self.stats_cols - 2;
        let (mut sd, mut sdd) = (vec![0.0; m], vec![0.0; m]);
        if let Some(t) = &self.host_targets {
            for &r in &order[(first_batch * self.batch).min(self.rows)..] {
                for (j, &d) in t[r * m..(r + 1) * m].iter().enumerate() {
                    sd[j] += d;
                    sdd[j] += d * d;
                }
            }
        }
        Ok(DeviceEpoch {
            losses: losses[first_batch..].iter().map(|&l| l as f64).collect(),
            rows: (first_batch..self.batches)
                .map(|k| self.batch.min(self.rows - k * self.batch))
                .collect(),
            correct: stats[1],
            sse: stats[2..].to_vec(),
            sd,
            sdd,
        })
    }

    /// Copies the parameters (and batch normalisation's running statistics) into `net`, and the
    /// optimizer's state, back to the host.
    pub fn download<T: Float>(
        &self,
        net: &mut Network<T>,
        state: &mut OptimizerState<T>,
    ) -> Result<()> {
        let copy = |d: &CudaSlice<f32>, h: &mut [T]| -> Result<()> {
            let v = self.gpu.download(d, h.len())?;
            for (h, &v) in h.iter_mut().zip(&v) {
                *h = T::of(v as f64);
            }
            Ok(())
        };
        copy(&self.params, &mut net.params)?;
        if let Some(r) = &self.running {
            copy(r, &mut net.buffers)?;
        }
        if state.m.len() == self.n_params {
            copy(&self.m1, &mut state.m)?;
        }
        if state.v.len() == self.n_params {
            copy(&self.m2, &mut state.v)?;
        }
        state.step = self.gpu.download(&self.counters, 2)?[1] as u64;
        Ok(())
    }

    /// Times `steps` training steps (after `warmup` untimed ones) over the batches of the data in
    /// their stored order, with CUDA events; milliseconds per step.
    pub fn time_steps(&mut self, warmup: usize, steps: usize) -> Result<f64> {
        let order: Vec<u32> = (0..self.rows as u32).collect();
        let s = self.gpu.stream.clone();
        let e = |x| self.gpu.err("cannot copy to the GPU", x);
        s.memcpy_htod(&order, &mut self.order).map_err(e)?;
        let full = self.rows / self.batch;
        if full == 0 {
            return Err(Error::config("time_steps: fewer rows than one batch"));
        }
        // Only full batches: the batch index wraps around them.
        if self.batches != full {
            self.batches = full;
            self.graphs.clear();
        }
        self.gather_first()?;
        for _ in 0..warmup {
            self.step(self.batch)?;
        }
        let ordinal = self.gpu.ordinal;
        let ev = |x| device_error(ordinal, format!("CUDA events: {x}"));
        // With timing: cudarc's default events have it disabled.
        let timed = Some(drv::CUevent_flags::CU_EVENT_DEFAULT);
        let start = self.gpu.ctx.new_event(timed).map_err(ev)?;
        let end = self.gpu.ctx.new_event(timed).map_err(ev)?;
        start.record(&s).map_err(ev)?;
        for _ in 0..steps {
            self.step(self.batch)?;
        }
        end.record(&s).map_err(ev)?;
        end.synchronize().map_err(ev)?;
        let ms = start.elapsed_ms(&end).map_err(ev)? as f64;
        self.gpu.sync()?;
        Ok(ms / steps.max(1) as f64)
    }

    /// One step on a batch of `rows` rows: the captured graph for that size, captured on first use.
    fn step(&mut self, rows: usize) -> Result<()> {
        if self.use_graphs {
            if let Some((_, g)) = self.graphs.iter().find(|(r, _)| *r == rows) {
                return g.launch().map_err(|x| self.gpu.err("CUDA graph launch", x));
            }
            match self.capture(rows) {
                Ok(g) => {
                    g.launch()
                        .map_err(|x| self.gpu.err("CUDA graph launch", x))?;
                    self.graphs.push((rows, g));
                    return Ok(());
                }
                Err(_) => {
                    // Capture is an optimisation: where it fails, launch the kernels one by one.
                    self.use_graphs = false;
                }
            }
        }
        self.launch_step(rows)
    }

    fn capture(&self, rows: usize) -> Result<CudaGraph> {
        let s = &self.gpu.stream;
        let e = |x| self.gpu.err("CUDA graph capture", x);
        s.begin_capture(drv::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_RELAXED)
            .map_err(e)?;
        let launched = self.launch_step(rows);
        let graph = s.end_capture(drv::CUgraphInstantiate_flags(0)).map_err(e)?;
        launched?;
        graph.ok_or_else(|| self.gpu.err("CUDA graph capture", "nothing captured"))
    }

    /// Layer k's dropout, as its kernels take it (a null key where it drops nothing).
    fn dropout_arg(&self, k: usize) -> DropoutArg {
        let s = &self.gpu.stream;
        let (threshold, keep) = self.layers[k].drop.unwrap_or((0, 1.0));
        DropoutArg {
            epoch_key: self.layers[k].drop.map_or(0, |_| raw(&self.dropout_key, s)),
            counters: raw(&self.counters, s),
            threshold,
            batches: self.batches as i32,
            layer: k as i32,
            keep,
            pad: 0,
        }
    }

    /// Layer k's input and the floats between its rows: the batch, or the layer below's h.
    fn input(&self, k: usize) -> (u64, usize) {
        let s = &self.gpu.stream;
        match k {
            0 => (raw(&self.xb, s), self.xs),
            _ => (raw(&self.layers[k - 1].a, s), self.layers[k - 1].stride),
        }
    }

    /// The inner dimension of layer k's products: its inputs, and with folded biases the column
    /// of ones after them ([x 1]·[W; b]).
    fn product_inputs(&self, k: usize) -> usize {
        let l = &self.layers[k];
        l.inputs + usize::from(self.fold && l.bias.is_some())
    }

    /// kernels.cu's `Batch` for this run, as bytes: seven addresses, then six ints (the last
    /// padding), the layout C gives the struct.
    fn batch_plan(&self) -> Vec<u8> {
        let s = &self.gpu.stream;
        let null = 0u64;
        let addresses = [
            raw(&self.x, s),
            raw(&self.order, s),
            self.labels.as_ref().map_or(null, |l| raw(l, s)),
            self.targets.as_ref().map_or(null, |t| raw(t, s)),
            raw(&self.xb, s),
            raw(&self.lb, s),
            raw(&self.tb, s),
        ];
        let sizes = [self.batch, self.rows, self.cols, self.outputs, self.xs, 0].map(|v| v as i32);
        let mut b = Vec::with_capacity(BATCH_PLAN_BYTES);
        addresses.iter().for_each(|a| b.extend(a.to_ne_bytes()));
        sizes.iter().for_each(|v| b.extend(v.to_ne_bytes()));
        debug_assert_eq!(b.len(), BATCH_PLAN_BYTES);
        b
    }

    /// Threads of a batch's gather: one per 16 bytes of its rows.
    fn gather_threads(&self) -> usize {
        self.batch * self.cols.div_ceil(4)
    }

    /// The grid of optimizer_step: a thread per parameter and per 16 bytes of a batch's rows.
    fn step_end_grid(&self) -> LaunchConfig {
        self.gpu
            .elementwise(self.n_params.max(self.gather_threads()))
    }

    /// Gathers the batch counters[0] names: before an epoch's first step (each step's
    /// optimizer_step gathers the batch after its own).
    fn gather_first(&self) -> Result<()> {
        let s = &self.gpu.stream;
        let (plan, counters) = (raw(&self.plan, s), raw(&self.counters, s));
        let batches = self.batches as i32;
        let mut b = s.launch_builder(&self.gpu.gather_rows);
        b.arg(&plan).arg(&counters).arg(&batches);
        // SAFETY: the argument list matches the kernel's signature in kernels.cu.
        unsafe { b.launch(self.gpu.elementwise(self.gather_threads())) }
            .map(|_| ())
            .map_err(|x| self.gpu.err("kernel launch", x))
    }

    /// Every launch of one training step, in order, on the run's stream.
    fn launch_step(&self, rows: usize) -> Result<()> {
        let g = &self.gpu;
        let s = &g.stream;
        let p = |b: &CudaSlice<f32>| raw(b, s);
        let null = 0u64;
        let le = |x| g.err("kernel launch", x);
        let params = p(&self.params);
        let grads = p(&self.grads);
        let (rows_i, batches_i) = (rows as i32, self.batches as i32);
        // forward
        let last = self.layers.len() - 1;
        // A layer's bias for the kernels: none where it rides in the product ([x 1]·[W; b], see
        // `with_ones`) or where fused_forward added it.
        let bias = |l: &LayerPlan| match l.bias {
            Some(o) if !self.fold && self.fused.is_none() => params + 4 * o as u64,
            _ => null,
        };
        match &self.fused {
            Some(f) => {
                // Every hidden h and the last layer's h', biases added, in one kernel.
                let (xb, xs, wt) = (p(&self.xb), self.xs as i32, p(&f.wt));
                let (meta, ptrs) = (raw(&f.meta, s), raw(&f.ptrs, s));
                let n_layers = self.layers.len() as i32;
                let mut b = s.launch_builder(f.kernels(g)[0]);
                b.arg(&xb).arg(&xs).arg(&rows_i).arg(&params).arg(&wt);
                b.arg(&meta).arg(&ptrs).arg(&n_layers).arg(&f.ks);
                // SAFETY: as above; `Fused::new` sized the shared memory.
                unsafe { b.launch(f.launch(rows)) }.map_err(le)?;
            }
            None => {
                for (k, l) in self.layers.iter().enumerate() {
                    let w = params + 4 * l.weight as u64;
                    let (z, a) = (p(&l.z), p(&l.a));
                    g.gemm(
                        (rows, l.outputs, self.product_inputs(k)),
                        self.input(k),
                        Trans::No,
                        (w, l.outputs),
                        Trans::No,
                        (z, l.outputs),
                    )?;
                    if k == last {
                        break;
                    }
                    let n = (rows * l.outputs) as i64;
                    let cols = l.outputs as i32;
                    let mut bias = bias(l);
                    if let Some(nm) = &l.norm {
                        // u = γ·ĥ + β over z, the bias added first; Φ then takes u.
                        let gb = params + 4 * nm.norm.gamma_offset as u64;
                        let (xhat, inv_std) = (p(&nm.xhat), p(&nm.inv_std));
                        match nm.norm.kind {
                            Normalization::Layer(ln) => {
                                let eps = ln.eps as f32;
                                let mut b = s.launch_builder(&g.layer_norm_forward);
                                b.arg(&z).arg(&bias).arg(&gb).arg(&xhat).arg(&inv_std);
                                b.arg(&rows_i).arg(&cols).arg(&eps);
                                // SAFETY: as above; one warp per row.
                                unsafe { b.launch(warp_rows(rows)) }.map_err(le)?;
                            }
                            Normalization::Batch(bn) => {
                                let running = self.running.as_ref().map_or(null, p)
                                    + 4 * nm.norm.running_offset as u64;
                                let eps = bn.eps as f32;
                                let (m, keep) = (bn.momentum as f32, (1.0 - bn.momentum) as f32);
                                let mut b = s.launch_builder(&g.batch_norm_forward);
                                b.arg(&z).arg(&bias).arg(&gb).arg(&xhat).arg(&inv_std);
                                b.arg(&running).arg(&rows_i).arg(&cols).arg(&eps);
                                b.arg(&m).arg(&keep);
                                // SAFETY: as above; 32 columns to a block.
                                unsafe { b.launch(column_tiles(l.outputs)) }.map_err(le)?;
                            }
                        }
                        bias = null;
                    }
                    let mut b = s.launch_builder(&g.bias_activation);
                    b.arg(&z)
                        .arg(&a)
                        .arg(&bias)
                        .arg(&n)
                        .arg(&cols)
                        .arg(&l.act)
                        .arg(&l.alpha)
                        .arg(&l.keep_z);
                    let stride = l.stride as i32;
                    let drop = self.dropout_arg(k);
                    b.arg(&stride).arg(&drop);
                    // SAFETY: as above.
                    unsafe { b.launch(g.elementwise(n as usize)) }.map_err(le)?;
                }
            }
        }
        // the output layer: bias, Φ, loss, δ and the row's tally
        {
            let l = &self.layers[last];
            let (z, a, delta) = (p(&l.z), p(&l.a), p(&l.delta));
            let bias = bias(l);
            let m = l.outputs as i32;
            let (loss, param) = self.loss;
            let lb = if self.labels.is_some() {
                raw(&self.lb, s)
            } else {
                null
            };
            let tb = if self.targets.is_some() {
                p(&self.tb)
            } else {
                null
            };
            let inv_rows = (1.0 / rows as f64) as f32;
            let inv_all = (1.0 / (rows * l.outputs) as f64) as f32;
            let stats = p(&self.stats);
            let sc = self.stats_cols as i32;
            let mut b = s.launch_builder(&g.output_layer);
            b.arg(&z)
                .arg(&a)
                .arg(&delta)
                .arg(&bias)
                .arg(&rows_i)
                .arg(&m);
            b.arg(&l.act)
                .arg(&l.alpha)
                .arg(&loss)
                .arg(&param)
                .arg(&lb)
                .arg(&tb);
            let class_w = self.class_w.as_ref().map_or(null, p);
            b.arg(&class_w)
                .arg(&self.multi_label)
                .arg(&inv_rows)
                .arg(&inv_all)
                .arg(&stats)
                .arg(&sc);
            // SAFETY: as above.
            unsafe { b.launch(warp_rows(rows)) }.map_err(le)?;
        }
        // The tally's sums: small batches in finish_step itself, else one product with ones.
        let small = rows * self.stats_cols <= 16384 && self.stats_cols <= 4;
        if !small {
            g.column_sums(
                p(&self.stats),
                rows,
                self.stats_cols,
                p(&self.ones),
                p(&self.sums),
            )?;
        }
        // backward: the seed's chain rule, last layer first
        if let Some(f) = &self.fused {
            // δ of every layer below the last, from the last's, in one kernel; and every ∂E/∂b.
            let (wt, meta, ptrs) = (p(&f.wt), raw(&f.meta, s), raw(&f.ptrs, s));
            let (part, biases) = (p(&f.part), f.biases as i32);
            let n_layers = self.layers.len() as i32;
            let mut b = s.launch_builder(f.kernels(g)[1]);
            b.arg(&wt).arg(&meta).arg(&ptrs).arg(&n_layers);
            b.arg(&rows_i).arg(&f.ks).arg(&part).arg(&biases);
            // SAFETY: as above.
            unsafe { b.launch(f.launch(rows)) }.map_err(le)?;
            if f.biases > 0 {
                let tiles = rows.div_ceil(FUSED_ROWS) as i32;
                let mut b = s.launch_builder(&g.fused_bias_sums);
                b.arg(&part).arg(&tiles).arg(&biases).arg(&meta);
                b.arg(&n_layers).arg(&grads);
                // SAFETY: as above.
                unsafe { b.launch(blocks(f.biases.div_ceil(32) as u32)) }.map_err(le)?;
            }
        }
        for k in (0..self.layers.len()).rev() {
            let l = &self.layers[k];
            let delta = p(&l.delta);
            let gw = grads + 4 * l.weight as u64;
            // ∂E/∂W = xᵀ·δ   [in × B]·[B × out]; folded, [∂E/∂W; ∂E/∂b] = [x 1]ᵀ·δ at once
            g.gemm(
                (self.product_inputs(k), l.outputs, rows),
                self.input(k),
                Trans::Yes,
                (delta, l.outputs),
                Trans::No,
                (gw, l.outputs),
            )?;
            if let (Some(o), false, None) = (l.bias, self.fold, &self.fused) {
                // ∂E/∂b = Σ over rows of δ (folded: made by the product above; fused: by
                // fused_bias_sums)
                g.column_sums(delta, rows, l.outputs, p(&self.ones), grads + 4 * o as u64)?;
            }
            if k > 0 && self.fused.is_none() {
                let prev = &self.layers[k - 1];
                let w = params + 4 * l.weight as u64;
                let dprev = p(&prev.delta);
                // ∂E/∂x = δ·Wᵀ   [B × out]·[out × in], then ⊙ Φ'(h') of the layer below
                g.gemm(
                    (rows, l.inputs, l.outputs),
                    (delta, l.outputs),
                    Trans::No,
                    (w, l.outputs),
                    Trans::Yes,
                    (dprev, l.inputs),
                )?;
                let n = (rows * prev.outputs) as i64;
                let z = if prev.keep_z == 1 { p(&prev.z) } else { null };
                let a = p(&prev.a);
                let mut b = s.launch_builder(&g.activation_backward);
                b.arg(&dprev)
                    .arg(&z)
                    .arg(&a)
                    .arg(&n)
                    .arg(&prev.act)
                    .arg(&prev.alpha);
                let (cols, stride) = (prev.outputs as i32, prev.stride as i32);
                let drop = self.dropout_arg(k - 1);
                b.arg(&cols).arg(&stride).arg(&drop);
                // SAFETY: as above.
                unsafe { b.launch(g.elementwise(n as usize)) }.map_err(le)?;
                if let Some(nm) = &prev.norm {
                    // dprev holds ∂E/∂u and becomes ∂E/∂h'; ∂E/∂γ and ∂E/∂β go to their slots.
                    let (gamma, dgamma) = (
                        params + 4 * nm.norm.gamma_offset as u64,
                        grads + 4 * nm.norm.gamma_offset as u64,
                    );
                    let (xhat, inv_std) = (p(&nm.xhat), p(&nm.inv_std));
                    match nm.norm.kind {
                        Normalization::Layer(_) => {
                            // ∂E/∂β = Σ over rows of ∂E/∂u, first; the kernel leaves ĥ ⊙ ∂E/∂u
                            // in xhat, whose sum over rows is ∂E/∂γ.
                            let dbeta = dgamma + 4 * prev.outputs as u64;
                            let ones = p(&self.ones);
                            g.column_sums(dprev, rows, prev.outputs, ones, dbeta)?;
                            let mut b = s.launch_builder(&g.layer_norm_backward);
                            b.arg(&dprev).arg(&xhat).arg(&inv_std).arg(&gamma);
                            b.arg(&rows_i).arg(&cols);
                            // SAFETY: as above; one warp per row.
                            unsafe { b.launch(warp_rows(rows)) }.map_err(le)?;
                            g.column_sums(xhat, rows, prev.outputs, ones, dgamma)?;
                        }
                        Normalization::Batch(_) => {
                            // The column sums are the kernel's own (it needs them itself).
                            let mut b = s.launch_builder(&g.batch_norm_backward);
                            b.arg(&dprev).arg(&xhat).arg(&inv_std).arg(&gamma);
                            b.arg(&dgamma).arg(&rows_i).arg(&cols);
                            // SAFETY: as above; 32 columns to a block.
                            unsafe { b.launch(column_tiles(prev.outputs)) }.map_err(le)?;
                        }
                    }
                }
            }
        }
        // optimizer
        let n = self.n_params as i64;
        let clip = match self.clip {
            Some(max_norm) => {
                let partial = raw(&self.clip_partial, s);
                let scale = p(&self.clip_scale);
                let cfg = blocks(CLIP_BLOCKS);
                let mut b = s.launch_builder(&g.sum_squares);
                b.arg(&grads).arg(&n).arg(&partial);
                // SAFETY: as above.
                unsafe { b.launch(cfg) }.map_err(le)?;
                let partials = CLIP_BLOCKS as i32;
                let mut b = s.launch_builder(&g.clip_factor);
                b.arg(&partial).arg(&partials).arg(&max_norm).arg(&scale);
                // SAFETY: as above.
                unsafe { b.launch(blocks(1)) }.map_err(le)?;
                scale
            }
            None => null,
        };
        {
            let (m1, m2) = (p(&self.m1), p(&self.m2));
            let decay = self.decay.as_ref().map_or(null, |d| raw(d, s));
            let lr = raw(&self.lr, s);
            let counters = raw(&self.counters, s);
            let (b1, b2) = self.betas;
            let mut b = s.launch_builder(&g.optimizer_step);
            b.arg(&params)
                .arg(&grads)
                .arg(&m1)
                .arg(&m2)
                .arg(&decay)
                .arg(&n)
                .arg(&self.rule);
            b.arg(&lr)
                .arg(&self.weight_decay)
                .arg(&self.mu)
                .arg(&b1)
                .arg(&b2)
                .arg(&self.eps);
            b.arg(&counters).arg(&clip);
            // The step's end and the next batch's gather (see optimizer_step).
            let plan = raw(&self.plan, s);
            let sums = p(&self.sums);
            let stats = if small { p(&self.stats) } else { null };
            let sc = self.stats_cols as i32;
            let (epoch, losses) = (raw(&self.epoch, s), p(&self.losses));
            b.arg(&plan).arg(&batches_i).arg(&sums).arg(&stats);
            b.arg(&rows_i).arg(&sc).arg(&epoch).arg(&losses);
            // SAFETY: as above.
            unsafe { b.launch(self.step_end_grid()) }.map_err(le)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What this file and kernels.cu must agree on, written in both, says the same in both.
    #[test]
    fn constants_match_the_kernels() {
        for (name, value) in [
            ("FUSED_ROWS", FUSED_ROWS),
            ("FUSED_MAX", FUSED_MAX),
            ("FUSED_META", FUSED_META),
        ] {
            let line = format!("#define {name} {value}\n");
            assert!(
                KERNELS.contains(&line),
                "kernels.cu lacks `{}`",
                line.trim()
            );
        }
        let size = format!("sizeof(Batch) == {BATCH_PLAN_BYTES}");
        assert!(KERNELS.contains(&size), "kernels.cu lacks `{size}`");
        let size = format!("sizeof(Dropout) == {}", std::mem::size_of::<DropoutArg>());
        assert!(KERNELS.contains(&size), "kernels.cu lacks `{size}`");
    }

    /// The kernels compile (NVRTC needs no GPU: where only libnvrtc is present, this still runs).
    #[test]
    fn kernels_compile() {
        // SAFETY: only tries to open the library.
        if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
            eprintln!("skipped: NVRTC (libnvrtc.so.13) is not on this machine");
            return;
        }
        for arch in ["compute_75", "compute_90"] {
            let r = cudarc::nvrtc::compile_ptx_with_opts(
                KERNELS,
                cudarc::nvrtc::CompileOptions {
                    options: vec![format!("--gpu-architecture={arch}")],
                    ..Default::default()
                },
            );
            if let Err(e) = &r {
                panic!("{arch}: {e:?}");
            }
            let ptx = r.unwrap().to_src();
            for name in [
                "gather_rows",
                "layer_norm_forward",
                "layer_norm_backward",
                "batch_norm_forward",
                "batch_norm_backward",
                "output_layer",
                "optimizer_step",
                "fused_forward",
                "fused_backward",
                "fused_forward_tf32",
                "fused_backward_tf32",
                "fused_bias_sums",
            ] {
                assert!(
                    ptx.contains(&format!(".entry {name}(")),
                    "{arch}: no {name}"
                );
            }
        }
    }
}
