/**
 * `@mtl/core/testing`: fixtures and the conformance checks every update rule and aggregator
 * package runs on itself, so a contributed method is checked the same way as ours.
 */
export * from './fixtures.js';
export * from './conformance.js';
export * from './architecture-conformance.js';
