import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

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

/** What the `--serve` reference reports about itself. */
export interface PytorchInfo {
  readonly python: string;
  readonly torch: string;
  readonly threads: number;
  readonly blas: string;
}

/**
 * bench/reference/bench.py --serve as a child process: one request per round, answered with that
 * round's step times, so our steps and PyTorch's alternate and a noisy neighbour hits both alike.
 */
export class PytorchServer {
  private readonly lines: AsyncIterator<string>;
  private constructor(
    private readonly child: ReturnType<typeof spawn>,
    lines: AsyncIterable<string>,
    readonly info: PytorchInfo,
  ) {
    this.lines = lines[Symbol.asyncIterator]();
  }

  static async start(python: string, root: string): Promise<PytorchServer> {
    const child = spawn(python, [join(root, 'bench', 'reference', 'bench.py'), '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = createInterface({ input: child.stdout });
    const iterator = lines[Symbol.asyncIterator]();
    const first = await iterator.next();
    if (first.done) throw new Error(`${python} bench/reference/bench.py --serve exited before its header`);
    const header = JSON.parse(first.value) as Omit<PytorchInfo, 'python'>;
    return new PytorchServer(child, { [Symbol.asyncIterator]: () => iterator }, { python, ...header });
  }

  async sample(name: string, steps: number, warmup = 0): Promise<number[]> {
    this.child.stdin!.write(JSON.stringify({ name, steps, warmup }) + '\n');
    const reply = await this.lines.next();
    if (reply.done) throw new Error(`the PyTorch reference exited while timing ${name}`);
    return (JSON.parse(reply.value) as { samples: number[] }).samples;
  }

  close(): void {
    this.child.stdin!.end();
  }
}
