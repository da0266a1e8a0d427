#!/usr/bin/env node
/** `pnpm benchmark [flags]`: parse, run every job in worker processes, write the report. */
import { CommanderError } from 'commander';
import { describeChoices, parseRun } from './cli.js';
import { runBenchmark } from './benchmark.js';
import { messageOf } from './errors.js';
import { formatDuration, progressView } from './progress.js';

let suites;
try {
  // `pnpm benchmark -- --quick` passes the `--` through; drop it so the flags are read as flags.
  const argv = process.argv.slice(2);
  suites = parseRun(argv[0] === '--' ? argv.slice(1) : argv);
} catch (error) {
  if (error instanceof CommanderError) {
    if (error.exitCode === 0) process.exit(0);
    console.error(error.message.replace(/^error: /, 'benchmark: '));
    console.error('run with --help for the flags, --list for datasets, architectures and methods');
    process.exit(2);
  }
  console.error(`benchmark: ${messageOf(error)}`);
  process.exit(2);
}
if (suites === 'list') {
  console.log(describeChoices());
  process.exit(0);
}

const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());
const started = Date.now();
for (const { name, config } of suites) {
  if (controller.signal.aborted) break;
  console.error(`benchmark${name ? ` ${name}` : ''}: ${config.dataset}, ${config.methods.length} methods x ${config.seeds.length} seeds, ${config.jobs} at once → ${config.out}`);
  try {
    const results = await runBenchmark(config, { progress: progressView(), signal: controller.signal });
    const failed = Object.entries(results.methods).filter(([, r]) => r.status === 'failed');
    console.error(`\ndone in ${formatDuration(Date.now() - started)}: ${config.out}/results.md, results.json, report.html`);
    if (failed.length) console.error(`failed: ${failed.map(([m, r]) => `${m} (${r.error})`).join('; ')}`);
  } catch (error) {
    console.error(`benchmark: ${messageOf(error)}`);
    process.exit(1);
  }
}
