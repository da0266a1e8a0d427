import { useBestBackend } from '@mtl/core';

/** Tests run on the default backend unless MTL_BACKEND says otherwise. */
export const backend = await useBestBackend();
