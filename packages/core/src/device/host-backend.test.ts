import { describeDeviceContract } from '../testing/device-suite.js';
import { referenceBackend } from '../nn/reference-backend.js';
import { HostDeviceBackend } from './host-backend.js';

await describeDeviceContract('host (reference convolutions)', async () => new HostDeviceBackend(referenceBackend(), { name: 'host-ref' }));
