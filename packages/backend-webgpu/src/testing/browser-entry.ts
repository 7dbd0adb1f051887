/** Entry of the browser test's bundle: exposes `runProbe` as the module's export. */
export { runProbe } from './probe.js';
