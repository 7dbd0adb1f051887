// Non-convolution kernels of the cpu-native backend: everything of nnU-Net's training step and inference between
// the convolutions. Plain pointer interfaces, float32 tensors in C order; activations are [N, C, S] with S the
// flattened spatial size (z, y, x; x fastest). All kernels are multi-threaded over the convolution thread pool and
// vectorised (one build of ops_body.h per instruction-set level, picked at run time with the conv micro-kernels).
// Reductions are deterministic: per-task partial sums in float64, added in task order.
#pragma once

namespace nnunet {

/** Element types of label maps / index outputs. */
enum DType { DT_F32 = 0, DT_I16 = 1, DT_U8 = 2, DT_I32 = 3 };

/** One instruction-set level's implementation of the vectorised ops. */
struct Ops {
  const char* name;
  /**
   * Instance norm (per (n, c): biased variance over S, eps added) with affine gamma/beta (null: 1 / 0) and an
   * optional fused LeakyReLU (act = 1, negative slope `slope`). xhat ((x - mean) * rstd, shape of x), mean and
   * rstd ([N*C], 1/sqrt(var+eps)) are written unless null.
   */
  void (*inorm_fwd)(const float* x, const float* gamma, const float* beta, float* y, float* xhat, float* mean,
                    float* rstd, long N, long C, long S, float eps, float slope, int act);
  /**
   * Backward of inorm_fwd from its input x and saved mean/rstd, or (mean null) from the saved xhat in x (the
   * LeakyReLU mask is recomputed from the pre-activation). dgamma / dbeta ([C], summed over N; added to when
   * accumulate, else overwritten) may be null.
   */
  void (*inorm_bwd)(const float* x, const float* gamma, const float* beta, const float* mean, const float* rstd,
                    const float* dy, float* dx, float* dgamma, float* dbeta, long N, long C, long S, float slope,
                    int act, int accumulate);
  /** y = x > 0 ? x : slope * x (in place allowed). */
  void (*lrelu_fwd)(const float* x, float* y, long n, float slope);
  /** dx = x > 0 ? dy : slope * dy; x may be the input or the output (same sign for slope > 0). In place allowed. */
  void (*lrelu_bwd)(const float* x, const float* dy, float* dx, long n, float slope);
  /** Softmax over the channel axis of [N, C, S]. */
  void (*softmax)(const float* x, float* y, long N, long C, long S);
  /** dx = p * (dp - sum_c p * dp) (softmax backward from its output p). */
  void (*softmax_bwd)(const float* p, const float* dp, float* dx, long N, long C, long S);
  /**
   * Loss forward pieces of nnU-Net's DC_and_CE_loss on logits [N, C, S] and an integer label map [N, S] of type
   * ttype: probs = softmax(logits); stats (float64, length N*C*3 + 2) = per (n, c) [sum p*y, sum p, sum y] (y the
   * one-hot target) then [sum of -log p_target, number of voxels]; voxels labelled `ignore` (< 0: none) count nowhere.
   * A label outside [0, C) counts as a voxel but in no class (so sum over c of sum y < voxels flags it).
   */
  void (*dcce_fwd)(const float* logits, const void* target, int ttype, long N, long C, long S, long ignore,
                   float* probs, double* stats);
  /**
   * Loss backward: with y the one-hot target and dp_c = A[n,c] * y_c + B[n,c] the gradient of the Dice part with
   * respect to the probabilities, dlogits_c = p_c (dp_c - sum_k p_k dp_k) + ce_scale (p_c - y_c); 0 where ignored.
   */
  void (*dcce_bwd)(const float* probs, const void* target, int ttype, long N, long C, long S, long ignore,
                   const float* A, const float* B, float ce_scale, float* dlogits);
  /**
   * SGD as torch.optim.SGD over k tensors: d = gscale * g + wd[i] * p; buf = momentum * buf + d;
   * p -= lr * (nesterov ? d + momentum * buf : buf).
   */
  void (*sgd)(float* const* p, const float* const* g, float* const* buf, const long* n, const float* wd, int k,
              float lr, float momentum, int nesterov, float gscale);
  /** Sum of squares over k tensors (float64), for the global gradient norm. */
  double (*sumsq)(const float* const* g, const long* n, int k);
  /** g *= s over k tensors. */
  void (*scale)(float* const* g, const long* n, int k, float s);
  /** y[n, c, :] += b[c]. */
  void (*bias_add)(float* y, const float* b, long N, long C, long S);
  /** out[c] (+)= sum over n, s of dy[n, c, s] (bias gradient; added to when accumulate). */
  void (*channel_sum)(const float* dy, float* out, long N, long C, long S, int accumulate);
  /** y = a * x + b * y (a = 1, b = 0: copy; b = 1: accumulate). */
  void (*axpby)(const float* x, float* y, long n, float a, float b);
  /**
   * Gaussian-weighted sliding-window accumulation: acc[c, z0+i, y0+j, x0+k] += scale * patch[c, i, j, k] * g[i, j, k]
   * and, when wacc is not null, wacc[z0+i, y0+j, x0+k] += g[i, j, k]. The patch must lie inside acc.
   */
  void (*acc_weighted)(float* acc, float* wacc, const float* patch, const float* g, long C, long Z, long Y, long X,
                       long pz, long py, long px, long z0, long y0, long x0, float scale);
  /** acc[c, s] /= w[s] over [C, S]. */
  void (*div_weights)(float* acc, const float* w, long C, long S);
  /** out[n, s] = argmax_c x[n, c, s] (first maximum), written as otype. */
  void (*argmax)(const float* x, long N, long C, long S, void* out, int otype);
};

/** The ops of the instruction-set level the conv micro-kernels use (see set_isa). */
const Ops& ops();
extern const Ops ops_generic;
#if defined(__x86_64__) || defined(_M_X64)
extern const Ops ops_avx2;
extern const Ops ops_avx512;
#endif

/** Channel concatenation of k tensors [N, cs[i], S] into [N, sum cs, S]. */
void concat_channels(const float* const* src, const long* cs, int k, long N, long S, float* dst);
/** Inverse of concat_channels. */
void split_channels(const float* src, float* const* dst, const long* cs, int k, long N, long S);
/**
 * dst[c, i, j, k] = src[c, z0+i, y0+j, x0+k] over the window [sz, sy, sx] of src [C, Z, Y, X], divided by
 * w[z0+i, y0+j, x0+k] when w is not null (sliding-window crop and accumulator normalisation).
 */
void copy_window(const float* src, long C, long Z, long Y, long X, long z0, long y0, long x0, long sz, long sy, long sx,
                 float* dst, const float* w);
/** dst = src mirrored along the axes in mask (1: z, 2: y, 4: x) of [NC, Z, Y, X]; dst != src. */
void flip(const float* src, float* dst, long NC, long Z, long Y, long X, int axes);
/**
 * Nearest-neighbour resize ('nearest-exact', batchgeneratorsv2's DownsampleSegForDSTransform) of [NC, Z, Y, X] to
 * [NC, oz, oy, ox]: source index min(in - 1, floor((i + 0.5) * in / out)) per axis. Element type `type` for both.
 */
void resize_nearest(const void* src, int type, void* dst, long NC, long Z, long Y, long X, long oz, long oy, long ox);

}  // namespace nnunet
