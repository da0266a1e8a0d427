#!/usr/bin/env node
/**
 * One job as a plain process, for executors other than the local worker pool (a distributed engine):
 * a JobSpec as JSON on stdin (or in the file named by the first argument), the JobResult as JSON
 * on stdout, progress as JSON lines on stderr. Exit code 0 whether the job succeeded or failed (the
 * result says which); 2 when the input is not a job.
 */
import { readFileSync } from 'node:fs';
import type { JobSpec } from './job.js';
import { runJob } from './run-job.js';

const text = process.argv[2] ? readFileSync(process.argv[2], 'utf8') : readFileSync(0, 'utf8');
let spec: JobSpec;
try {
  spec = JSON.parse(text) as JobSpec;
  if (typeof spec !== 'object' || spec === null || typeof spec.id !== 'string' || typeof spec.method !== 'string') throw new Error('not a job: it needs at least "id" and "method"');
} catch (error) {
  console.error(`job: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(2);
}
const result = await runJob(spec, (progress) => process.stderr.write(`${JSON.stringify(progress)}\n`));
process.stdout.write(`${JSON.stringify(result)}\n`);
