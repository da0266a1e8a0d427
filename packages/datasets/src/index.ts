/**
 * @mtl/datasets — Offline multi-task datasets: MultiMNIST, MultiFashion, MNIST attributes, synthetic controllable relatedness, toy two-objective problems.
 *
 * Export the public surface only; one concept a file in src/.
 */
export {};
