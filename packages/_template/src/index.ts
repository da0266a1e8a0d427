/**
 * @mtl/__name__ — __description__
 *
 * Export the public surface only; one concept a file in src/.
 */
export {};
