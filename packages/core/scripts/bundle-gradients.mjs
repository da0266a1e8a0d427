// tfjs-core's Node entry point registers no gradients, and its ESM files use extensionless
// imports that Node cannot load. We bundle tfjs-core's own gradient registrations into one
// ESM file. The bundle carries its own copy of the ops the gradients call, but the engine,
// kernel registry and gradient registry are global singletons in tfjs, so the gradients it
// registers are the ones the app's tfjs-core uses.
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', 'src', 'generated');
mkdirSync(outDir, { recursive: true });

await build({
  stdin: {
    contents: "import '@tensorflow/tfjs-core/dist/register_all_gradients';",
    resolveDir: join(here, '..'),
  },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  legalComments: 'eof',
  outfile: join(outDir, 'tfjs-gradients.js'),
  logLevel: 'warning',
});
writeFileSync(
  join(outDir, 'tfjs-gradients.d.ts'),
  '// Side-effect module: registers tfjs-core gradients.\nexport {};\n',
);
