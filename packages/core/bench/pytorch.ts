import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export interface PytorchResults {
  readonly python: string;
  readonly torch: string;
  readonly threads: number;
  readonly blas: string;
  readonly results: Record<string, number>;
}

/**
 * The first interpreter that can `import torch`: `python3` on PATH, then Debian's /usr/bin/python3
 * (where the `python3-torch` package installs). Returns undefined, with the reasons, if none can.
 */
export function findTorchPython(): { python?: string; tried: string[] } {
  const tried: string[] = [];
  for (const python of ['python3', '/usr/bin/python3', 'python']) {
    if (python.startsWith('/') && !existsSync(python)) continue;
    try {
      execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60_000 });
      return { python, tried };
    } catch {
      tried.push(python);
    }
  }
  return { tried };
}

/** Runs bench/reference/bench.py (same models, batch and steps) and parses its JSON. */
export function runPytorchReference(python: string, root: string, options: { steps: number; names: readonly string[] }): PytorchResults {
  const script = join(root, 'bench', 'reference', 'bench.py');
  const out = execFileSync(python, [script, '--steps', String(options.steps), '--only', options.names.join(',')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    timeout: 600_000,
  });
  const line = out.trim().split('\n').at(-1)!;
  return { python, ...(JSON.parse(line) as Omit<PytorchResults, 'python'>) };
}
