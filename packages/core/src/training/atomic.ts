/** The atomic writer lives in `util/atomic.ts`; re-exported here for the training modules. */
export { writeFileAtomic } from '../util/atomic.js';
