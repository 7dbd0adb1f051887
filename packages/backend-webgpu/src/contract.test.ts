/** The device contract suite (`@nnunet-ts/core/testing`, float64 references) on `webgpu` over SwiftShader. */
import { describeDeviceContract } from '@nnunet-ts/core/testing';
import { webgpuPlugin } from './plugin.js';

await describeDeviceContract('webgpu (SwiftShader)', () => webgpuPlugin({ software: 'only' }).createDevice());
