// N-API entry points of the cpu-native backend. Shapes are validated on the JavaScript side; these functions
// trust them and write into output arrays allocated by the caller.
#include <napi.h>

#include <mutex>
#include <string>
#include <vector>

#include "conv.h"
#include "ops.h"

namespace {

using nnunet::Geo;

float* f32(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Float32Array");
  return v.As<Napi::Float32Array>().Data();
}

long num(const Napi::Array& a, uint32_t i) { return a.Get(i).As<Napi::Number>().Int64Value(); }

// geo = [n, ci, d, h, w, co, kd, kh, kw, sd, sh, sw, pd, ph, pw, od, oh, ow]
Geo geo(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != 18) throw Napi::TypeError::New(v.Env(), "geometry must have 18 entries");
  Geo g{num(a, 0),  num(a, 1),  num(a, 2),  num(a, 3),  num(a, 4),  num(a, 5),  num(a, 6),  num(a, 7), num(a, 8),
        num(a, 9),  num(a, 10), num(a, 11), num(a, 12), num(a, 13), num(a, 14), num(a, 15), num(a, 16), num(a, 17)};
  return g;
}

// Runs a native call, turning C++ exceptions (std::bad_alloc, ...) into JavaScript errors.
// One convolution at a time per process: the thread pool and scratch state are process-wide, and Node worker
// threads share this library. (Within a call, the pool's threads do the parallel work.)
std::mutex g_call_mutex;

template <class F>
Napi::Value guarded(const Napi::CallbackInfo& info, F&& f) {
  try {
    std::lock_guard<std::mutex> lock(g_call_mutex);
    f();
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("cpu-native: ") + e.what());
  }
  return info.Env().Undefined();
}

// forward(x, w, bias | null, y, geo)
Napi::Value Forward(const Napi::CallbackInfo& info) {
  const float* bias = info[2].IsNull() || info[2].IsUndefined() ? nullptr : f32(info[2], "bias");
  return guarded(info, [&] { nnunet::conv_fwd(f32(info[0], "x"), f32(info[1], "w"), bias, f32(info[3], "y"), geo(info[4])); });
}

// backwardData(dy, w, dx, geo)
Napi::Value BackwardData(const Napi::CallbackInfo& info) {
  return guarded(info, [&] { nnunet::conv_bwd_data(f32(info[0], "dy"), f32(info[1], "w"), f32(info[2], "dx"), geo(info[3])); });
}

// backwardFilter(x, dy, dw, geo, accumulate?)
Napi::Value BackwardFilter(const Napi::CallbackInfo& info) {
  const bool acc = info.Length() > 4 && info[4].ToBoolean().Value();
  return guarded(info, [&] { nnunet::conv_bwd_filter(f32(info[0], "x"), f32(info[1], "dy"), f32(info[2], "dw"), geo(info[3]), acc); });
}


// ---- the other ops (ops.h). Each checks array lengths against the sizes it is given (an out-of-bounds write
// would take the process down), the JavaScript side checks shapes.

long len(const Napi::Value& v) { return static_cast<long>(v.As<Napi::TypedArray>().ElementLength()); }
long n_(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().Int64Value(); }
float fl(const Napi::CallbackInfo& info, int i) { return info[i].As<Napi::Number>().FloatValue(); }
bool absent(const Napi::Value& v) { return v.IsNull() || v.IsUndefined(); }

float* f32n(const Napi::Value& v, const char* what, long need) {
  float* p = f32(v, what);
  if (len(v) < need) throw Napi::RangeError::New(v.Env(), std::string(what) + " is too short");
  return p;
}
float* opt32(const Napi::Value& v, const char* what, long need) { return absent(v) ? nullptr : f32n(v, what, need); }

/** Data pointer and DType of an integer or float label / index array of at least `need` elements. */
void* labels(const Napi::Value& v, const char* what, long need, int* type) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a typed array");
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  switch (a.TypedArrayType()) {
    case napi_float32_array: *type = nnunet::DT_F32; break;
    case napi_int16_array: *type = nnunet::DT_I16; break;
    case napi_uint8_array: *type = nnunet::DT_U8; break;
    case napi_int32_array: *type = nnunet::DT_I32; break;
    default: throw Napi::TypeError::New(v.Env(), std::string(what) + ": Float32Array, Int16Array, Uint8Array or Int32Array expected");
  }
  if (static_cast<long>(a.ElementLength()) < need) throw Napi::RangeError::New(v.Env(), std::string(what) + " is too short");
  return static_cast<char*>(a.ArrayBuffer().Data()) + a.ByteOffset();
}

/** Float32Arrays of a JS array: pointers and lengths. */
struct F32List {
  std::vector<float*> p;
  std::vector<long> n;
  F32List(const Napi::Value& v, const char* what) {
    if (!v.IsArray()) throw Napi::TypeError::New(v.Env(), std::string(what) + " must be an array of Float32Array");
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value e = a.Get(i);
      p.push_back(f32(e, what));
      n.push_back(len(e));
    }
  }
};

// instanceNormForward(x, gamma, beta, y, xhat, mean, rstd, N, C, S, eps, slope, act)
Napi::Value InstanceNormForward(const Napi::CallbackInfo& info) {
  const long N = n_(info, 7), C = n_(info, 8), S = n_(info, 9);
  return guarded(info, [&] {
    nnunet::ops().inorm_fwd(f32n(info[0], "x", N * C * S), opt32(info[1], "gamma", C), opt32(info[2], "beta", C),
                            f32n(info[3], "y", N * C * S), opt32(info[4], "xhat", N * C * S),
                            opt32(info[5], "mean", N * C), opt32(info[6], "rstd", N * C), N, C, S, fl(info, 10),
                            fl(info, 11), static_cast<int>(n_(info, 12)));
  });
}

// instanceNormBackward(x | xhat, gamma, beta, mean | null, rstd, dy, dx, dgamma, dbeta, N, C, S, slope, act, accumulate)
Napi::Value InstanceNormBackward(const Napi::CallbackInfo& info) {
  const long N = n_(info, 9), C = n_(info, 10), S = n_(info, 11);
  return guarded(info, [&] {
    nnunet::ops().inorm_bwd(f32n(info[0], "x", N * C * S), opt32(info[1], "gamma", C), opt32(info[2], "beta", C),
                            opt32(info[3], "mean", N * C), f32n(info[4], "rstd", N * C), f32n(info[5], "dy", N * C * S),
                            f32n(info[6], "dx", N * C * S), opt32(info[7], "dgamma", C), opt32(info[8], "dbeta", C), N,
                            C, S, fl(info, 12), static_cast<int>(n_(info, 13)), info[14].ToBoolean().Value() ? 1 : 0);
  });
}

// leakyReluForward(x, y, slope)
Napi::Value LeakyReluForward(const Napi::CallbackInfo& info) {
  const long n = len(info[1]);
  return guarded(info, [&] { nnunet::ops().lrelu_fwd(f32n(info[0], "x", n), f32(info[1], "y"), n, fl(info, 2)); });
}

// leakyReluBackward(x, dy, dx, slope)
Napi::Value LeakyReluBackward(const Napi::CallbackInfo& info) {
  const long n = len(info[2]);
  return guarded(info, [&] {
    nnunet::ops().lrelu_bwd(f32n(info[0], "x", n), f32n(info[1], "dy", n), f32(info[2], "dx"), n, fl(info, 3));
  });
}

// softmax(x, y, N, C, S)
Napi::Value Softmax(const Napi::CallbackInfo& info) {
  const long N = n_(info, 2), C = n_(info, 3), S = n_(info, 4);
  return guarded(info, [&] { nnunet::ops().softmax(f32n(info[0], "x", N * C * S), f32n(info[1], "y", N * C * S), N, C, S); });
}

// softmaxBackward(p, dp, dx, N, C, S)
Napi::Value SoftmaxBackward(const Napi::CallbackInfo& info) {
  const long N = n_(info, 3), C = n_(info, 4), S = n_(info, 5), T = N * C * S;
  return guarded(info, [&] {
    nnunet::ops().softmax_bwd(f32n(info[0], "p", T), f32n(info[1], "dp", T), f32n(info[2], "dx", T), N, C, S);
  });
}

// dcCeForward(logits, target, N, C, S, ignore, probs, stats: Float64Array(N*C*3 + 2))
Napi::Value DcCeForward(const Napi::CallbackInfo& info) {
  const long N = n_(info, 2), C = n_(info, 3), S = n_(info, 4), T = N * C * S;
  return guarded(info, [&] {
    int tt;
    const void* tg = labels(info[1], "target", N * S, &tt);
    Napi::Value sv = info[7];
    if (!sv.IsTypedArray() || sv.As<Napi::TypedArray>().TypedArrayType() != napi_float64_array || len(sv) < N * C * 3 + 2)
      throw Napi::TypeError::New(info.Env(), "stats must be a Float64Array of N*C*3 + 2");
    nnunet::ops().dcce_fwd(f32n(info[0], "logits", T), tg, tt, N, C, S, n_(info, 5), f32n(info[6], "probs", T),
                           sv.As<Napi::Float64Array>().Data());
  });
}

// dcCeBackward(probs, target, N, C, S, ignore, A, B, ceScale, dlogits)
Napi::Value DcCeBackward(const Napi::CallbackInfo& info) {
  const long N = n_(info, 2), C = n_(info, 3), S = n_(info, 4), T = N * C * S;
  return guarded(info, [&] {
    int tt;
    const void* tg = labels(info[1], "target", N * S, &tt);
    nnunet::ops().dcce_bwd(f32n(info[0], "probs", T), tg, tt, N, C, S, n_(info, 5), f32n(info[6], "A", N * C),
                           f32n(info[7], "B", N * C), fl(info, 8), f32n(info[9], "dlogits", T));
  });
}

// sgd(params[], grads[], bufs[], wd: Float32Array, lr, momentum, nesterov, gscale)
Napi::Value Sgd(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    F32List p(info[0], "params"), g(info[1], "grads"), b(info[2], "bufs");
    const int k = static_cast<int>(p.p.size());
    if (static_cast<int>(g.p.size()) != k || static_cast<int>(b.p.size()) != k)
      throw Napi::RangeError::New(info.Env(), "sgd: params, grads and bufs differ in count");
    for (int i = 0; i < k; i++)
      if (g.n[i] != p.n[i] || b.n[i] != p.n[i]) throw Napi::RangeError::New(info.Env(), "sgd: tensor lengths differ");
    const float* wd = f32n(info[3], "wd", k);
    std::vector<const float*> gc(g.p.begin(), g.p.end());
    nnunet::ops().sgd(p.p.data(), gc.data(), b.p.data(), p.n.data(), wd, k, fl(info, 4), fl(info, 5),
                      info[6].ToBoolean().Value() ? 1 : 0, fl(info, 7));
  });
}

// sumSquares(arrays[]) -> number (float64)
Napi::Value SumSquares(const Napi::CallbackInfo& info) {
  double s = 0;
  guarded(info, [&] {
    F32List g(info[0], "arrays");
    std::vector<const float*> gc(g.p.begin(), g.p.end());
    s = nnunet::ops().sumsq(gc.data(), g.n.data(), static_cast<int>(gc.size()));
  });
  return Napi::Number::New(info.Env(), s);
}

// scale(arrays[], s)
Napi::Value Scale(const Napi::CallbackInfo& info) {
  return guarded(info, [&] {
    F32List g(info[0], "arrays");
    nnunet::ops().scale(g.p.data(), g.n.data(), static_cast<int>(g.p.size()), fl(info, 1));
  });
}

// biasAdd(y, b, N, C, S)
Napi::Value BiasAdd(const Napi::CallbackInfo& info) {
  const long N = n_(info, 2), C = n_(info, 3), S = n_(info, 4);
  return guarded(info, [&] { nnunet::ops().bias_add(f32n(info[0], "y", N * C * S), f32n(info[1], "b", C), N, C, S); });
}

// channelSum(dy, out, N, C, S, accumulate)
Napi::Value ChannelSum(const Napi::CallbackInfo& info) {
  const long N = n_(info, 2), C = n_(info, 3), S = n_(info, 4);
  const int acc = info[5].ToBoolean().Value() ? 1 : 0;
  return guarded(info, [&] { nnunet::ops().channel_sum(f32n(info[0], "dy", N * C * S), f32n(info[1], "out", C), N, C, S, acc); });
}

// axpby(x, y, a, b): y = a x + b y
Napi::Value Axpby(const Napi::CallbackInfo& info) {
  const long n = len(info[1]);
  return guarded(info, [&] { nnunet::ops().axpby(f32n(info[0], "x", n), f32(info[1], "y"), n, fl(info, 2), fl(info, 3)); });
}

// accumulateWeighted(acc, wacc | null, patch, g, C, Z, Y, X, pz, py, px, z0, y0, x0, scale)
Napi::Value AccumulateWeighted(const Napi::CallbackInfo& info) {
  const long C = n_(info, 4), Z = n_(info, 5), Y = n_(info, 6), X = n_(info, 7);
  const long pz = n_(info, 8), py = n_(info, 9), px = n_(info, 10), z0 = n_(info, 11), y0 = n_(info, 12), x0 = n_(info, 13);
  if (z0 < 0 || y0 < 0 || x0 < 0 || z0 + pz > Z || y0 + py > Y || x0 + px > X)
    throw Napi::RangeError::New(info.Env(), "accumulateWeighted: the patch does not lie inside the volume");
  return guarded(info, [&] {
    nnunet::ops().acc_weighted(f32n(info[0], "acc", C * Z * Y * X), opt32(info[1], "wacc", Z * Y * X),
                               f32n(info[2], "patch", C * pz * py * px), f32n(info[3], "gaussian", pz * py * px), C, Z,
                               Y, X, pz, py, px, z0, y0, x0, fl(info, 14));
  });
}

// divideWeights(acc, w, C, S)
Napi::Value DivideWeights(const Napi::CallbackInfo& info) {
  const long C = n_(info, 2), S = n_(info, 3);
  return guarded(info, [&] { nnunet::ops().div_weights(f32n(info[0], "acc", C * S), f32n(info[1], "w", S), C, S); });
}

// argmax(x, N, C, S, out: Float32Array | Int16Array | Uint8Array | Int32Array)
Napi::Value Argmax(const Napi::CallbackInfo& info) {
  const long N = n_(info, 1), C = n_(info, 2), S = n_(info, 3);
  return guarded(info, [&] {
    int ot;
    void* out = labels(info[4], "out", N * S, &ot);
    nnunet::ops().argmax(f32n(info[0], "x", N * C * S), N, C, S, out, ot);
  });
}

// concatChannels(srcs[], N, S, dst): srcs[i] is [N, c_i, S] with c_i = length / (N S)
Napi::Value ConcatChannels(const Napi::CallbackInfo& info) {
  const long N = n_(info, 1), S = n_(info, 2);
  return guarded(info, [&] {
    F32List s(info[0], "srcs");
    std::vector<long> cs;
    long tot = 0;
    for (long n : s.n) cs.push_back(n / (N * S)), tot += n;
    std::vector<const float*> sc(s.p.begin(), s.p.end());
    nnunet::concat_channels(sc.data(), cs.data(), static_cast<int>(cs.size()), N, S, f32n(info[3], "dst", tot));
  });
}

// splitChannels(src, dsts[], N, S)
Napi::Value SplitChannels(const Napi::CallbackInfo& info) {
  const long N = n_(info, 2), S = n_(info, 3);
  return guarded(info, [&] {
    F32List d(info[1], "dsts");
    std::vector<long> cs;
    long tot = 0;
    for (long n : d.n) cs.push_back(n / (N * S)), tot += n;
    nnunet::split_channels(f32n(info[0], "src", tot), d.p.data(), cs.data(), static_cast<int>(cs.size()), N, S);
  });
}

// flip(src, dst, NC, Z, Y, X, axes: bit 1 z, 2 y, 4 x)
Napi::Value Flip(const Napi::CallbackInfo& info) {
  const long NC = n_(info, 2), Z = n_(info, 3), Y = n_(info, 4), X = n_(info, 5), T = NC * Z * Y * X;
  return guarded(info, [&] {
    const float* s = f32n(info[0], "src", T);
    float* d = f32n(info[1], "dst", T);
    if (s == d) throw Napi::RangeError::New(info.Env(), "flip: src and dst must differ");
    nnunet::flip(s, d, NC, Z, Y, X, static_cast<int>(n_(info, 6)));
  });
}

// copyWindow(src, C, Z, Y, X, z0, y0, x0, sz, sy, sx, dst, w | null)
Napi::Value CopyWindow(const Napi::CallbackInfo& info) {
  const long C = n_(info, 1), Z = n_(info, 2), Y = n_(info, 3), X = n_(info, 4), z0 = n_(info, 5), y0 = n_(info, 6),
             x0 = n_(info, 7), sz = n_(info, 8), sy = n_(info, 9), sx = n_(info, 10);
  if (z0 < 0 || y0 < 0 || x0 < 0 || sz < 0 || sy < 0 || sx < 0 || z0 + sz > Z || y0 + sy > Y || x0 + sx > X)
    throw Napi::RangeError::New(info.Env(), "copyWindow: the window does not lie inside the volume");
  return guarded(info, [&] {
    nnunet::copy_window(f32n(info[0], "src", C * Z * Y * X), C, Z, Y, X, z0, y0, x0, sz, sy, sx,
                        f32n(info[11], "dst", C * sz * sy * sx), opt32(info[12], "w", Z * Y * X));
  });
}

// resizeNearest(src, dst, NC, Z, Y, X, oz, oy, ox): same element type for both
Napi::Value ResizeNearest(const Napi::CallbackInfo& info) {
  const long NC = n_(info, 2), Z = n_(info, 3), Y = n_(info, 4), X = n_(info, 5), oz = n_(info, 6), oy = n_(info, 7),
             ox = n_(info, 8);
  return guarded(info, [&] {
    int ts, td;
    const void* s = labels(info[0], "src", NC * Z * Y * X, &ts);
    void* d = labels(info[1], "dst", NC * oz * oy * ox, &td);
    if (ts != td) throw Napi::TypeError::New(info.Env(), "resizeNearest: src and dst types differ");
    nnunet::resize_nearest(s, ts, d, NC, Z, Y, X, oz, oy, ox);
  });
}

// info() -> { isa, threads, vw }
Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("isa", nnunet::kernels().name);
  o.Set("vw", nnunet::kernels().vw);
  o.Set("threads", nnunet::threads());
  return o;
}

// setIsa(name) -> boolean
Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), nnunet::set_isa(info[0].As<Napi::String>().Utf8Value().c_str()));
}

// setPath("auto" | "direct" | "im2col" | "winograd") -> boolean
Napi::Value SetPath(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), nnunet::set_path(info[0].As<Napi::String>().Utf8Value().c_str()));
}

// setThreads(n): n <= 0 restores the default (NNUNET_NUM_THREADS or the usable cores)
Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  nnunet::set_threads(info[0].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("forward", Napi::Function::New(env, Forward));
  exports.Set("backwardData", Napi::Function::New(env, BackwardData));
  exports.Set("backwardFilter", Napi::Function::New(env, BackwardFilter));
  exports.Set("info", Napi::Function::New(env, Info));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa));
  exports.Set("setPath", Napi::Function::New(env, SetPath));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("instanceNormForward", Napi::Function::New(env, InstanceNormForward));
  exports.Set("instanceNormBackward", Napi::Function::New(env, InstanceNormBackward));
  exports.Set("leakyReluForward", Napi::Function::New(env, LeakyReluForward));
  exports.Set("leakyReluBackward", Napi::Function::New(env, LeakyReluBackward));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("softmaxBackward", Napi::Function::New(env, SoftmaxBackward));
  exports.Set("dcCeForward", Napi::Function::New(env, DcCeForward));
  exports.Set("dcCeBackward", Napi::Function::New(env, DcCeBackward));
  exports.Set("sgd", Napi::Function::New(env, Sgd));
  exports.Set("sumSquares", Napi::Function::New(env, SumSquares));
  exports.Set("scale", Napi::Function::New(env, Scale));
  exports.Set("biasAdd", Napi::Function::New(env, BiasAdd));
  exports.Set("channelSum", Napi::Function::New(env, ChannelSum));
  exports.Set("axpby", Napi::Function::New(env, Axpby));
  exports.Set("accumulateWeighted", Napi::Function::New(env, AccumulateWeighted));
  exports.Set("divideWeights", Napi::Function::New(env, DivideWeights));
  exports.Set("argmax", Napi::Function::New(env, Argmax));
  exports.Set("concatChannels", Napi::Function::New(env, ConcatChannels));
  exports.Set("splitChannels", Napi::Function::New(env, SplitChannels));
  exports.Set("flip", Napi::Function::New(env, Flip));
  exports.Set("resizeNearest", Napi::Function::New(env, ResizeNearest));
  exports.Set("copyWindow", Napi::Function::New(env, CopyWindow));
  return exports;
}

}  // namespace

NODE_API_MODULE(nnunet_cpu, Init)
