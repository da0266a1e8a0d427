import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { MtlError } from '@mtl/core';

/** Element types of the IDX format, by type code. */
export type IdxDataType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

const TYPE_CODES: Readonly<Record<number, { type: IdxDataType; bytes: number }>> = {
  0x08: { type: 'uint8', bytes: 1 },
  0x09: { type: 'int8', bytes: 1 },
  0x0b: { type: 'int16', bytes: 2 },
  0x0c: { type: 'int32', bytes: 4 },
  0x0d: { type: 'float32', bytes: 4 },
  0x0e: { type: 'float64', bytes: 8 },
};

/** A decoded IDX array: its shape and row-major values. */
export interface IdxArray {
  readonly dataType: IdxDataType;
  readonly shape: readonly number[];
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/**
 * Decodes an IDX file (the MNIST / Fashion-MNIST format): two zero bytes, a type code, the number
 * of dimensions, big-endian 32-bit sizes, then big-endian values. Gzip-compressed input (`.gz`)
 * is detected by its magic bytes. `source` names the file in errors.
 */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  let buffer = bytes;
  if (buffer.length >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b) {
    try {
      buffer = gunzipSync(buffer);
    } catch (cause) {
      throw new MtlError('INVALID_DATA', `${source} looks gzip-compressed but does not decompress`, { source }, { cause });
    }
  }
  if (buffer.length < 4 || buffer[0] !== 0 || buffer[1] !== 0) {
    throw new MtlError('INVALID_DATA', `${source} is not an IDX file (it must start with two zero bytes)`, { source });
  }
  const spec = TYPE_CODES[buffer[2]!];
  if (!spec) throw new MtlError('INVALID_DATA', `${source} has unknown IDX type code 0x${buffer[2]!.toString(16)}`, { source, typeCode: buffer[2] });
  const rank = buffer[3]!;
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const headerBytes = 4 + 4 * rank;
  if (buffer.length < headerBytes) throw new MtlError('INVALID_DATA', `${source} ends inside its IDX header`, { source });
  const shape: number[] = [];
  for (let d = 0; d < rank; d++) shape.push(view.getUint32(4 + 4 * d, false));
  const count = shape.reduce((a, b) => a * b, 1);
  const expected = headerBytes + count * spec.bytes;
  if (buffer.length !== expected) {
    throw new MtlError('SHAPE_MISMATCH', `${source} has ${buffer.length} bytes; an IDX ${spec.type} array of shape [${shape.join(', ')}] has ${expected}`, {
      source,
      shape,
      length: buffer.length,
      expected,
    });
  }
  return { dataType: spec.type, shape, data: decode(view, headerBytes, count, spec.type) };
}

/** Reads and decodes an IDX file (optionally gzip-compressed) from disk. */
export function readIdxFile(path: string): IdxArray {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new MtlError('EMPTY_DATA', `cannot read IDX file ${path}`, { path }, { cause });
  }
  return parseIdx(bytes, path);
}

/** Encodes an array in the IDX format (uncompressed): the inverse of {@link parseIdx}. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const entry = Object.entries(TYPE_CODES).find(([, s]) => s.type === array.dataType);
  if (!entry) throw new MtlError('INVALID_OPTION', `unknown IDX data type ${String(array.dataType)}`, { option: 'dataType' });
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (count !== array.data.length) {
    throw new MtlError('SHAPE_MISMATCH', `IDX data has ${array.data.length} values for shape [${array.shape.join(', ')}]`, { shape: [...array.shape], length: array.data.length });
  }
  const header = 4 + 4 * array.shape.length;
  const out = new Uint8Array(header + count * entry[1].bytes);
  const view = new DataView(out.buffer);
  out[2] = Number(entry[0]);
  out[3] = array.shape.length;
  array.shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < count; i++) {
    const v = array.data[i]!;
    const at = header + i * entry[1].bytes;
    switch (array.dataType) {
      case 'uint8':
        view.setUint8(at, v);
        break;
      case 'int8':
        view.setInt8(at, v);
        break;
      case 'int16':
        view.setInt16(at, v, false);
        break;
      case 'int32':
        view.setInt32(at, v, false);
        break;
      case 'float32':
        view.setFloat32(at, v, false);
        break;
      case 'float64':
        view.setFloat64(at, v, false);
        break;
    }
  }
  return out;
}

function decode(view: DataView, offset: number, count: number, type: IdxDataType): IdxArray['data'] {
  switch (type) {
    case 'uint8':
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int8':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int16':
      return Int16Array.from({ length: count }, (_, i) => view.getInt16(offset + 2 * i, false));
    case 'int32':
      return Int32Array.from({ length: count }, (_, i) => view.getInt32(offset + 4 * i, false));
    case 'float32':
      return Float32Array.from({ length: count }, (_, i) => view.getFloat32(offset + 4 * i, false));
    case 'float64':
      return Float64Array.from({ length: count }, (_, i) => view.getFloat64(offset + 8 * i, false));
  }
}
