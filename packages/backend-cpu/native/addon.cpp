// N-API entry points of the cpu-native backend. Shapes are validated on the JavaScript side; these functions
// trust them and write into output arrays allocated by the caller.
#include <napi.h>

#include <mutex>

#include "conv.h"

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

// backwardFilter(x, dy, dw, geo)
Napi::Value BackwardFilter(const Napi::CallbackInfo& info) {
  return guarded(info, [&] { nnunet::conv_bwd_filter(f32(info[0], "x"), f32(info[1], "dy"), f32(info[2], "dw"), geo(info[3])); });
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

// setPath("auto" | "direct" | "im2col") -> boolean
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
  return exports;
}

}  // namespace

NODE_API_MODULE(nnunet_cpu, Init)
