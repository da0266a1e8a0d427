import { useBestBackend } from '../src/index.js';

/** Tests run on the default backend unless MTL_BACKEND says otherwise. */
export const backend = await useBestBackend();
