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

/**
 * A small CNN over [batch, 1, 8, 8]: Conv(4, 3×3, pad 1) → Relu → Conv(2, 3×3, stride 2) → Relu →
 * Flatten → MatMul(18×5) + Add → OUTPUT [batch, 5]. Weights: weights(seed + k) for the k-th
 * parameter in that order (conv1 W, conv1 B, conv2 W, conv2 B, fc W, fc B), so a JS reference
 * can recompute them.
 */
export const CNN_SHAPES = { conv1: [4, 1, 3, 3], conv2: [2, 4, 3, 3], fc: [18, 5] } as const;

export function cnnModel(seed = 7): Uint8Array {
  const init = (name: string, k: number, dims: readonly number[]) => ({
    name, type: 'FLOAT' as const, dims: [...dims], values: weights(seed + k, dims.reduce((a, b) => a * b, 1), 0.5),
  });
  return buildModel({
    name: 'cnn',
    inputs: [{ name: 'INPUT', type: 'FLOAT', dims: ['batch', 1, 8, 8] }],
    outputs: [{ name: 'OUTPUT', type: 'FLOAT', dims: ['batch', 5] }],
    initializers: [
      init('W1', 0, CNN_SHAPES.conv1), init('B1', 1, [4]),
      init('W2', 2, CNN_SHAPES.conv2), init('B2', 3, [2]),
      init('WF', 4, CNN_SHAPES.fc), init('BF', 5, [5]),
    ],
    nodes: [
      { op: 'Conv', inputs: ['INPUT', 'W1', 'B1'], outputs: ['c1'], attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } },
      { op: 'Relu', inputs: ['c1'], outputs: ['r1'] },
      { op: 'Conv', inputs: ['r1', 'W2', 'B2'], outputs: ['c2'], attributes: { kernel_shape: [3, 3], strides: [2, 2] } },
      { op: 'Relu', inputs: ['c2'], outputs: ['r2'] },
      { op: 'Flatten', inputs: ['r2'], outputs: ['f'], attributes: { axis: 1 } },
      { op: 'MatMul', inputs: ['f', 'WF'], outputs: ['m'] },
      { op: 'Add', inputs: ['m', 'BF'], outputs: ['OUTPUT'] },
    ],
  });
}

/**
 * A deliberately slow model with no weights (a few bytes on disk), for scheduling tests that need
 * executions to take a while: x[batch, n] → outer product [batch, n, n] → `rounds` × (MatMul with
 * itself, Tanh) → ReduceSum over the last axis → OUTPUT [batch, n]. Cost ≈ rounds · n³ per item.
 */
export function slowModel(n = 256, rounds = 8): Uint8Array {
  const nodes = [
    { op: 'Unsqueeze', inputs: ['INPUT', 'axis_col'], outputs: ['col'] },
    { op: 'Unsqueeze', inputs: ['INPUT', 'axis_row'], outputs: ['row'] },
    { op: 'MatMul', inputs: ['col', 'row'], outputs: ['m0'] },
  ];
  for (let i = 0; i < rounds; i++) {
    nodes.push({ op: 'MatMul', inputs: [`m${i}`, `m${i}`], outputs: [`p${i}`] });
    nodes.push({ op: 'Tanh', inputs: [`p${i}`], outputs: [`m${i + 1}`] });
  }
  nodes.push({ op: 'ReduceSum', inputs: [`m${rounds}`, 'axis_col'], outputs: ['OUTPUT'], attributes: { keepdims: 0 } } as never);
  return buildModel({
    name: 'slow',
    inputs: [{ name: 'INPUT', type: 'FLOAT', dims: ['batch', n] }],
    outputs: [{ name: 'OUTPUT', type: 'FLOAT', dims: ['batch', n] }],
    initializers: [
      { name: 'axis_col', type: 'INT64', dims: [1], values: [2] },
      { name: 'axis_row', type: 'INT64', dims: [1], values: [1] },
    ],
    nodes,
  });
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

/** An INT32 [batch, 1] tensor: the inputs and outputs of Triton's sequence examples. */
const int32Column = (name: string) => ({ name, type: 'INT32' as const, dims: ['batch', 1] });

/**
 * Triton's `simple_sequence` accumulator with implicit state: OUTPUT = INPUT + ACCUMULATOR
 * (ACCUMULATOR = 0 on START), all INT32 [batch, 1]. READY multiplies the result, so a step the
 * batcher marks not-ready yields 0. The sequence batcher feeds ACCUMULATOR_IN from the previous
 * step's ACCUMULATOR_OUT.
 */
export function accumulatorModel(): Uint8Array {
  return buildModel({
    name: 'simple_sequence',
    inputs: [int32Column('INPUT'), int32Column('START'), int32Column('READY'), int32Column('ACCUMULATOR_IN')],
    outputs: [int32Column('OUTPUT'), int32Column('ACCUMULATOR_OUT')],
    nodes: [
      { op: 'Mul', inputs: ['ACCUMULATOR_IN', 'START'], outputs: ['dropped'] },
      { op: 'Sub', inputs: ['ACCUMULATOR_IN', 'dropped'], outputs: ['carried'] },
      { op: 'Add', inputs: ['INPUT', 'carried'], outputs: ['sum'] },
      { op: 'Mul', inputs: ['sum', 'READY'], outputs: ['OUTPUT'] },
      { op: 'Identity', inputs: ['OUTPUT'], outputs: ['ACCUMULATOR_OUT'] },
    ],
  });
}

/**
 * Triton's `simple_int8` / `simple_string` (docs/examples/model_repository): `simple`'s add/sub over
 * INT8 or STRING tensors [batch, 16]. As in Triton's ONNX versions, the inputs are cast to INT32, added
 * and subtracted, and cast back (a STRING element is the decimal text of an integer).
 */
export function castAddSubModel(type: 'INT8' | 'STRING'): Uint8Array {
  const INT32 = 6;
  const code = type === 'INT8' ? 3 : 8;
  const io = (name: string) => ({ name, type, dims: ['batch', 16] });
  return buildModel({
    name: `simple_${type.toLowerCase()}`,
    inputs: [io('INPUT0'), io('INPUT1')],
    outputs: [io('OUTPUT0'), io('OUTPUT1')],
    nodes: [
      { op: 'Cast', inputs: ['INPUT0'], outputs: ['in0'], attributes: { to: INT32 } },
      { op: 'Cast', inputs: ['INPUT1'], outputs: ['in1'], attributes: { to: INT32 } },
      { op: 'Add', inputs: ['in0', 'in1'], outputs: ['sum'] },
      { op: 'Sub', inputs: ['in0', 'in1'], outputs: ['difference'] },
      { op: 'Cast', inputs: ['sum'], outputs: ['OUTPUT0'], attributes: { to: code } },
      { op: 'Cast', inputs: ['difference'], outputs: ['OUTPUT1'], attributes: { to: code } },
    ],
  });
}

/**
 * Triton's `simple_sequence` as its ONNX version computes it: OUTPUT = (INPUT + START) × READY, INT32
 * [batch, 1], no state (the sequence batcher supplies START and READY). Triton's sequence client
 * examples (simple_*_sequence_*_client.py) expect exactly this: the first step answers INPUT + 1, the
 * others echo INPUT.
 */
export function tritonSequenceModel(): Uint8Array {
  return buildModel({
    name: 'simple_sequence',
    inputs: [int32Column('INPUT'), int32Column('START'), int32Column('READY')],
    outputs: [int32Column('OUTPUT')],
    nodes: [
      { op: 'Add', inputs: ['INPUT', 'START'], outputs: ['started'] },
      { op: 'Mul', inputs: ['started', 'READY'], outputs: ['OUTPUT'] },
    ],
  });
}

/**
 * Triton's `simple_dyna_sequence` as its ONNX version computes it: OUTPUT = (INPUT + START + END ×
 * CORRID) × READY, INT32 [batch, 1], CORRID a UINT64 [batch, 1] control input (the correlation ID is
 * added to the last step of a sequence, as the examples' `--dyna` mode expects).
 */
export function dynaSequenceModel(): Uint8Array {
  return buildModel({
    name: 'simple_dyna_sequence',
    inputs: [int32Column('INPUT'), int32Column('START'), int32Column('END'), int32Column('READY'), { name: 'CORRID', type: 'UINT64', dims: ['batch', 1] }],
    outputs: [int32Column('OUTPUT')],
    nodes: [
      { op: 'Cast', inputs: ['CORRID'], outputs: ['corrid'], attributes: { to: 6 } },
      { op: 'Add', inputs: ['INPUT', 'START'], outputs: ['started'] },
      { op: 'Mul', inputs: ['END', 'corrid'], outputs: ['ended'] },
      { op: 'Add', inputs: ['started', 'ended'], outputs: ['sum'] },
      { op: 'Mul', inputs: ['sum', 'READY'], outputs: ['OUTPUT'] },
    ],
  });
}

/**
 * `simple_string_dyna_sequence`, the model Triton's CI adds for the sequence examples' `--dyna` mode
 * (its dyna_sequence backend with a STRING CORRID): an accumulator over the sequence, ACC = INPUT on
 * START and ACC + INPUT after, the correlation ID (decimal text) added on END. INT32 [batch, 1];
 * CORRID STRING [batch, 1]; the accumulator is implicit state (ACC_IN / ACC_OUT).
 */
export function stringDynaSequenceModel(): Uint8Array {
  return buildModel({
    name: 'simple_string_dyna_sequence',
    inputs: [int32Column('INPUT'), int32Column('START'), int32Column('END'), int32Column('READY'), { name: 'CORRID', type: 'STRING', dims: ['batch', 1] }, int32Column('ACC_IN')],
    outputs: [int32Column('OUTPUT'), int32Column('ACC_OUT')],
    nodes: [
      { op: 'Mul', inputs: ['ACC_IN', 'START'], outputs: ['dropped'] },
      { op: 'Sub', inputs: ['ACC_IN', 'dropped'], outputs: ['carried'] },
      { op: 'Add', inputs: ['INPUT', 'carried'], outputs: ['sum'] },
      { op: 'Mul', inputs: ['sum', 'READY'], outputs: ['ACC_OUT'] },
      { op: 'Cast', inputs: ['CORRID'], outputs: ['corrid'], attributes: { to: 6 } },
      { op: 'Mul', inputs: ['END', 'corrid'], outputs: ['ended'] },
      { op: 'Add', inputs: ['ACC_OUT', 'ended'], outputs: ['OUTPUT'] },
    ],
  });
}
