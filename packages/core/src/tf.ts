// tfjs-core's declarations use the global `Long` of @types/long without referencing it; a consumer
// with `"types": ["node"]` (or any explicit list) then fails with "Cannot find name 'Long'". This
// reference travels into our published declarations, so the consumer's compiler finds it.
/// <reference types="long" preserve="true" />
/**
 * The one place @mtl imports tfjs-core. Importing the generated bundle registers tfjs-core's
 * gradients, which its Node entry point leaves out.
 */
import * as tf from '@tensorflow/tfjs-core';
import './generated/tfjs-gradients.js';

export { tf };
