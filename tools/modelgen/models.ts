/** The generated models used by the examples, tests and benchmarks (built here, never downloaded). */
import { buildModel, type ElemType } from './onnx-graph.js';

/** Triton's quickstart model: OUTPUT0 = INPUT0 + INPUT1, OUTPUT1 = INPUT0 − INPUT1, INT32 [-1,16]. */
export function simpleModel(): Uint8Array {
  const io = (name: string) => ({ name, type: 'INT32' as const, dims: ['batch', 16] });
  return buildModel({
    name: 'simple',
    inputs: [io('INPUT0'), io('INPUT1')],
    outputs: [io('OUTPUT0'), io('OUTPUT1')],
    nodes: [
      { op: 'Add', inputs: ['INPUT0', 'INPUT1'], outputs: ['OUTPUT0'] },
      { op: 'Sub', inputs: ['INPUT0', 'INPUT1'], outputs: ['OUTPUT1'] },
    ],
  });
}

/** OUTPUT = Identity(INPUT) for one element type, dims [batch, n] (n may be symbolic). */
export function identityModel(type: ElemType, dims: (number | string)[] = ['batch', 'n']): Uint8Array {
  return buildModel({
    name: `identity_${type.toLowerCase()}`,
    inputs: [{ name: 'INPUT', type, dims }],
    outputs: [{ name: 'OUTPUT', type, dims }],
    nodes: [{ op: 'Identity', inputs: ['INPUT'], outputs: ['OUTPUT'] }],
  });
}

/** Deterministic pseudo-random weights (mulberry32), so a JS reference can recompute them. */
export function weights(seed: number, count: number, scale = 0.1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/**
 * A multi-layer perceptron: x[batch, sizes[0]] → MatMul+Add(+Relu between layers) → y[batch, sizes.at(-1)].
 * Layer i uses weights(seed + 2i) for W (row-major [in, out]) and weights(seed + 2i + 1) for b.
 */
export function mlpModel(sizes: number[], seed = 1): Uint8Array {
  const nodes = [];
  const initializers = [];
  let current = 'INPUT';
  for (let i = 0; i < sizes.length - 1; i++) {
    const [n, m] = [sizes[i]!, sizes[i + 1]!];
    initializers.push({ name: `W${i}`, type: 'FLOAT' as const, dims: [n, m], values: weights(seed + 2 * i, n * m) });
    initializers.push({ name: `B${i}`, type: 'FLOAT' as const, dims: [m], values: weights(seed + 2 * i + 1, m) });
    const last = i === sizes.length - 2;
    nodes.push({ op: 'MatMul', inputs: [current, `W${i}`], outputs: [`mm${i}`] });
    nodes.push({ op: 'Add', inputs: [`mm${i}`, `B${i}`], outputs: [last ? 'OUTPUT' : `add${i}`] });
    if (!last) nodes.push({ op: 'Relu', inputs: [`add${i}`], outputs: [`relu${i}`] });
    current = last ? 'OUTPUT' : `relu${i}`;
  }
  return buildModel({
    name: 'mlp',
    inputs: [{ name: 'INPUT', type: 'FLOAT', dims: ['batch', sizes[0]!] }],
    outputs: [{ name: 'OUTPUT', type: 'FLOAT', dims: ['batch', sizes.at(-1)!] }],
    nodes,
    initializers,
  });
}

/** JS reference forward pass of mlpModel, for tests: independent of onnxruntime. */
export function mlpReference(sizes: number[], seed: number, input: Float32Array, batch: number): Float32Array {
  let x = input;
  for (let i = 0; i < sizes.length - 1; i++) {
    const [n, m] = [sizes[i]!, sizes[i + 1]!];
    const w = weights(seed + 2 * i, n * m);
    const b = weights(seed + 2 * i + 1, m);
    const y = new Float32Array(batch * m);
    for (let r = 0; r < batch; r++) {
      for (let c = 0; c < m; c++) {
        let s = b[c]!;
        for (let k = 0; k < n; k++) s += x[r * n + k]! * w[k * m + c]!;
        y[r * m + c] = i < sizes.length - 2 ? Math.max(0, s) : s;
      }
    }
    x = y;
  }
  return x;
}

/** OUTPUT = INPUT + k, FP32 [batch, n]: a model whose outputs say which one answered (lifecycle tests). */
export function addConstantModel(k: number, n = 4): Uint8Array {
  return buildModel({
    name: `add_${k}`,
    inputs: [{ name: 'INPUT', type: 'FLOAT', dims: ['batch', n] }],
    outputs: [{ name: 'OUTPUT', type: 'FLOAT', dims: ['batch', n] }],
    nodes: [{ op: 'Add', inputs: ['INPUT', 'K'], outputs: ['OUTPUT'] }],
    initializers: [{ name: 'K', type: 'FLOAT', dims: [1], values: [k] }],
  });
}

/**
 * OUTPUT = INPUT (FP32 [batch, n]), computed slowly: each row is expanded to `copies` rows, sent
 * through `layers` MatMuls with the identity matrix, and averaged back. For tests that need
 * requests in flight; the result stays exact for small integers.
 */
export function slowIdentityModel(n = 256, copies = 1024, layers = 400): Uint8Array {
  const identity = new Float32Array(n * n);
  for (let i = 0; i < n; i++) identity[i * n + i] = 1;
  const nodes = [{ op: 'Unsqueeze', inputs: ['INPUT', 'AXIS1'], outputs: ['x3'] }, { op: 'Expand', inputs: ['x3', 'SHAPE'], outputs: ['h0'] }];
  for (let i = 0; i < layers; i++) nodes.push({ op: 'MatMul', inputs: [`h${i}`, 'W'], outputs: [`h${i + 1}`] });
  return buildModel({
    name: 'slow_identity',
    inputs: [{ name: 'INPUT', type: 'FLOAT', dims: ['batch', n] }],
    outputs: [{ name: 'OUTPUT', type: 'FLOAT', dims: ['batch', n] }],
    nodes: [...nodes, { op: 'ReduceMean', inputs: [`h${layers}`], outputs: ['OUTPUT'], attributes: { axes: [1], keepdims: 0 } } as never],
    initializers: [
      { name: 'W', type: 'FLOAT', dims: [n, n], values: identity },
      { name: 'AXIS1', type: 'INT64', dims: [1], values: [1] },
      { name: 'SHAPE', type: 'INT64', dims: [3], values: [1, copies, n] },
    ],
  });
}
