/** Handles of the tfjs device backend: a `DeviceTensor` owning one tfjs tensor (swapped by in-place ops). */
import type * as tfc from '@tensorflow/tfjs-core';
import type { DeviceDType, DeviceTensor } from '@nnunet-ts/core';

/** The tfjs-core API (`@tensorflow/tfjs-core`, or `@tensorflow/tfjs-node(-gpu)` which re-exports it). */
export type Tf = typeof tfc;
/** A tfjs tensor. */
export type TfTensor = tfc.Tensor;

/** One device tensor: the tfjs tensor `t` (replaced, and the old one disposed, by in-place ops). */
export class TfHandle implements DeviceTensor {
  readonly size: number;
  private disposed = false;
  constructor(
    public t: TfTensor,
    readonly backend: string,
    readonly dtype: DeviceDType = t.dtype === 'int32' ? 'int32' : 'float32',
  ) {
    this.size = t.size;
  }
  get shape(): readonly number[] {
    return this.t.shape;
  }
  get isDisposed(): boolean {
    return this.disposed;
  }
  /** Replaces the tensor (in-place op), disposing the old one. */
  swap(t: TfTensor): void {
    if (t !== this.t) {
      this.t.dispose();
      this.t = t;
    }
  }
  /** Disposes the tensor; false when already disposed. */
  free(): boolean {
    if (this.disposed) return false;
    this.disposed = true;
    this.t.dispose();
    return true;
  }
}
