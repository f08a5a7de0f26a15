/**
 * A small builder for ONNX graphs, used to generate the test, benchmark and example models
 * in TypeScript (nothing is downloaded). Dims given as strings are symbolic (dynamic).
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

export type ElemType = 'FLOAT' | 'FLOAT16' | 'DOUBLE' | 'INT8' | 'INT16' | 'INT32' | 'INT64'
  | 'UINT8' | 'UINT16' | 'UINT32' | 'UINT64' | 'BOOL' | 'STRING';

export type Dim = number | string;

export interface ValueSpec { name: string; type: ElemType; dims: Dim[] }

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, number | number[] | string | { tensor: InitializerSpec }>;
  name?: string;
}

export interface InitializerSpec { name: string; type: 'FLOAT' | 'INT64' | 'INT32'; dims: number[]; values: ArrayLike<number> }

export interface GraphSpec {
  name: string;
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  nodes: NodeSpec[];
  initializers?: InitializerSpec[];
  opset?: number;
}

const elemTypeCode = (type: ElemType): number => onnx.TensorProto.DataType[type];

function valueInfo(spec: ValueSpec) {
  return {
    name: spec.name,
    type: {
      tensorType: {
        elemType: elemTypeCode(spec.type),
        shape: { dim: spec.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function tensorProto(init: InitializerSpec) {
  const bytes = init.type === 'FLOAT'
    ? new Uint8Array(Float32Array.from(init.values).buffer)
    : init.type === 'INT32'
      ? new Uint8Array(Int32Array.from(init.values).buffer)
      : new Uint8Array(BigInt64Array.from(Array.from(init.values, (v) => BigInt(v))).buffer);
  return { name: init.name, dims: init.dims, dataType: elemTypeCode(init.type), rawData: bytes };
}

function attribute(name: string, value: NonNullable<NodeSpec['attributes']>[string]) {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: A.INT, i: value } : { name, type: A.FLOAT, f: value };
  }
  if (typeof value === 'string') return { name, type: A.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  return { name, type: A.TENSOR, t: tensorProto((value as { tensor: InitializerSpec }).tensor) };
}

/** Serialises a graph to the bytes of a .onnx file. */
export function buildModel(spec: GraphSpec): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'vireo-modelgen',
    opsetImport: [{ domain: '', version: spec.opset ?? 17 }],
    graph: {
      name: spec.name,
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      initializer: (spec.initializers ?? []).map(tensorProto),
      node: spec.nodes.map((n, i) => ({
        name: n.name ?? `${n.op}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
