/**
 * The one place @mtl imports tfjs-core. Importing the generated bundle registers tfjs-core's
 * gradients, which its Node entry point leaves out.
 */
import * as tf from '@tensorflow/tfjs-core';
import './generated/tfjs-gradients.js';

export { tf };
