import type { ComputeBackend, Tensor } from '../contracts/backend.js';
import type { DeviceBackend, DeviceTensor } from '../contracts/device.js';
import type { Network, Parameter } from '../contracts/network.js';
import { HostDeviceBackend } from '../device/host-backend.js';
import type { Module } from './module.js';
import { pullParameters, pushParameters } from './module.js';

const wrapped = new WeakMap<ComputeBackend, DeviceBackend>();

/** True when `b` is a device backend (contracts/device.ts) rather than a legacy `ComputeBackend`. */
export function isDeviceBackend(b: ComputeBackend | DeviceBackend): b is DeviceBackend {
  return 'upload' in b && 'dcCeLoss' in b;
}

/**
 * The device a network factory (or trainer, predictor) works on: `device`, else `backend` when it is a device,
 * else the legacy compute backend's convolutions inside a `HostDeviceBackend` (one per compute backend, so every
 * network built on it shares the device). Throws `Error` when neither is given.
 */
export function resolveDevice(input: { device?: DeviceBackend; backend?: ComputeBackend | DeviceBackend }): DeviceBackend {
  if (input.device) return input.device;
  const b = input.backend;
  if (!b) throw new Error('network factory: neither a device nor a compute backend was given');
  if (isDeviceBackend(b)) return b;
  let d = wrapped.get(b);
  if (!d) wrapped.set(b, (d = new HostDeviceBackend(b, { name: b.info.name })));
  return d;
}

function readSync(device: DeviceBackend, t: DeviceTensor): Tensor {
  if (!device.readSync) throw new Error(`${device.info.name} has no synchronous read; use the device API`);
  return { data: device.readSync(t), shape: [...t.shape] };
}

/**
 * Host-array forward of a network (tests, small tools; needs `capabilities.syncRead`): uploads `x`, runs
 * `forward`, reads the outputs back. Parameters are not re-uploaded: after editing `Parameter.value` on the host
 * call `net.pushParameters()`.
 */
export function forwardHost(net: Network, x: Tensor, training: boolean): Tensor[] {
  return net.forward(net.device.upload(x.data, x.shape), training).map((y) => readSync(net.device, y));
}

/**
 * Host-array backward with PyTorch's `.grad` semantics on the host copies: the host `grad`s are uploaded, the
 * backward adds into them on the device, and they are read back into `Parameter.grad`.
 */
export function backwardHost(net: Network, grads: (Tensor | null)[]): void {
  const d = net.device;
  for (const p of net.parameters) {
    if (p.gradTensor) d.dispose(p.gradTensor);
    p.gradTensor = d.upload(p.grad, p.shape);
  }
  net.backward(grads.map((g) => (g ? d.upload(g.data, g.shape) : null)));
  for (const p of net.parameters) p.grad.set(readSync(d, p.gradTensor!).data);
}

/** A layer seen through host arrays (tests): `pushParameters` before every forward, grads as `backwardHost`. */
export interface HostModule {
  readonly parameters: Parameter[];
  forward(x: Tensor, training: boolean): Tensor;
  backward(dy: Tensor): Tensor | null;
}

/**
 * Wraps a device `Module` as a `HostModule` on `device` (needs `capabilities.syncRead`); the layer's other members
 * (weight, bias, params) stay reachable through the prototype.
 */
export function hostModule<M extends Module>(device: DeviceBackend, m: M): Omit<M, 'forward' | 'backward'> & HostModule {
  return Object.assign(Object.create(m) as M, {
    forward(x: Tensor, training: boolean): Tensor {
      pushParameters(device, m.parameters);
      return readSync(device, m.forward(device.upload(x.data, x.shape), training));
    },
    backward(dy: Tensor): Tensor | null {
      for (const p of m.parameters) {
        device.dispose(p.gradTensor!);
        p.gradTensor = device.upload(p.grad, p.shape);
      }
      const dx = m.backward(device.upload(dy.data, dy.shape));
      for (const p of m.parameters) p.grad.set(readSync(device, p.gradTensor!).data);
      return dx ? readSync(device, dx) : null;
    },
  });
}

/** A network computed on host arrays (see `hostNetwork`). */
export interface HostNetworkImpl {
  readonly parameters: Parameter[];
  /** Reads `Parameter.value`; returns logits per level. */
  forward(x: Tensor, training: boolean): Tensor[];
  /** Adds into `Parameter.grad` (zeroed by the adapter before each call). */
  backward(gradOutputs: (Tensor | null)[]): void;
  setDeepSupervision?(on: boolean): void;
}

/**
 * Adapts a network written on host arrays to the device `Network` contract (test stubs, third-party plugins):
 * inputs and gradients are read back synchronously, parameters pulled before each forward and their host
 * gradients added into the device gradients after each backward. Needs `capabilities.syncRead`; slow by design.
 */
export function hostNetwork(device: DeviceBackend, impl: HostNetworkImpl): Network {
  const params = impl.parameters;
  pushParameters(device, params);
  return {
    device,
    parameters: params,
    setDeepSupervision: (on) => impl.setDeepSupervision?.(on),
    pushParameters: () => pushParameters(device, params),
    pullParameters: () => pullParameters(device, params),
    forward(x: DeviceTensor, training: boolean): DeviceTensor[] {
      for (const p of params) p.value.set(readSync(device, p.tensor!).data);
      return impl.forward(readSync(device, x), training).map((y) => device.upload(y.data, y.shape));
    },
    backward(gradOutputs: (DeviceTensor | null)[]): void {
      for (const p of params) p.grad.fill(0);
      impl.backward(gradOutputs.map((g) => (g ? readSync(device, g) : null)));
      for (const p of params) {
        const g = device.upload(p.grad, p.shape);
        device.axpy(1, g, p.gradTensor!);
        device.dispose(g);
      }
    },
  };
}
