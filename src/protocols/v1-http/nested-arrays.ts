/**
 * Nested JSON arrays ⇄ shapes, for the V1 REST formats, which carry no explicit shape: a value's
 * shape is the nesting of its arrays, which must be rectangular.
 */
import { VireoError } from '../../core/errors.js';

const MAX_DEPTH = 32;

/** A leaf is anything that is not an array: a number, boolean, string or `{"b64": ...}`. */
export function shapeOf(value: unknown, what: string): number[] {
  const shape: number[] = [];
  let probe = value;
  while (Array.isArray(probe)) {
    if (shape.length >= MAX_DEPTH) throw new VireoError('VIREO_ERR_INPUT_DATA', `${what}: value is nested too deeply`);
    shape.push(probe.length);
    probe = probe[0];
  }
  const check = (v: unknown, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(v)) throw ragged(what);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) throw ragged(what);
    for (const item of v) check(item, depth + 1);
  };
  check(value, 0);
  return shape;
}

const ragged = (what: string) => new VireoError('VIREO_ERR_INPUT_SHAPE', `${what}: value is not a rectangular (non-ragged) array`);

/** A flat array reshaped to nested arrays of `shape` (row-major). A scalar shape yields the element. */
export function nest<T>(flat: readonly T[], shape: readonly number[], start = 0): unknown {
  if (shape.length === 0) return flat[start];
  const [dim, ...rest] = shape;
  const stride = rest.reduce((p, d) => p * d, 1);
  const out: unknown[] = new Array(dim!);
  for (let i = 0; i < dim!; i++) out[i] = nest(flat, rest, start + i * stride);
  return out;
}
