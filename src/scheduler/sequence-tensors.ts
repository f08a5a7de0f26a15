/**
 * The tensors the sequence batcher adds to a request: Triton's control inputs (START, END, READY,
 * CORRID, each written with the model's configured false/true values) and implicit state inputs.
 * Pure functions; shapes follow Triton: [1] per control without a batch dimension, [1, 1] with one.
 */
import { dataTypeInfo, type DataType, type NumericArray } from '../core/datatypes.js';
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';

export type ControlKind = 'CONTROL_SEQUENCE_START' | 'CONTROL_SEQUENCE_READY' | 'CONTROL_SEQUENCE_END' | 'CONTROL_SEQUENCE_CORRID';

/** Triton's ModelSequenceBatching.Control as configured. */
export interface SequenceControl {
  kind: ControlKind;
  int32_false_true?: number[];
  fp32_false_true?: number[];
  bool_false_true?: boolean[];
  data_type?: DataType;
}

export interface ControlInput {
  name: string;
  control: SequenceControl[];
}

/** One implicit state, with its initial value already made (zeros or the data_file's bytes). */
export interface StateSpec {
  inputName: string;
  outputName: string;
  datatype: DataType;
  /** Shape of one sequence's state, without the batch dimension. */
  dims: number[];
  initial: NumericArray;
}

export interface StepFlags {
  start: boolean;
  end: boolean;
  id: bigint | string;
}

const CORRID_TYPES: readonly DataType[] = ['UINT64', 'INT64', 'UINT32', 'INT32', 'BYTES'];

/** Refuses a control that Triton would refuse: a boolean kind without exactly one false/true pair, a CORRID of another type. */
export function checkControls(inputs: readonly ControlInput[]): void {
  const seen = new Set<ControlKind>();
  for (const input of inputs) {
    if (input.control.length !== 1) throw new VireoError('VIREO_ERR_CONFIG_INVALID', `sequence_batching.control_input "${input.name}": give exactly one control per input`);
    const control = input.control[0]!;
    if (seen.has(control.kind)) throw new VireoError('VIREO_ERR_CONFIG_INVALID', `sequence_batching: ${control.kind} is configured twice`);
    seen.add(control.kind);
    const pairs = [control.int32_false_true, control.fp32_false_true, control.bool_false_true].filter((p) => p !== undefined && p.length > 0);
    if (control.kind === 'CONTROL_SEQUENCE_CORRID') {
      if (!control.data_type || !CORRID_TYPES.includes(control.data_type)) {
        throw new VireoError('VIREO_ERR_CONFIG_INVALID', `sequence_batching.control_input "${input.name}": CONTROL_SEQUENCE_CORRID needs data_type UINT64, INT64, UINT32, INT32 or STRING`);
      }
    } else if (pairs.length !== 1) {
      throw new VireoError('VIREO_ERR_CONFIG_INVALID', `sequence_batching.control_input "${input.name}": ${control.kind} needs exactly one of int32_false_true, fp32_false_true and bool_false_true`);
    }
  }
}

/** The datatype a control input has in the model. */
export function controlDatatype(control: SequenceControl): DataType {
  if (control.kind === 'CONTROL_SEQUENCE_CORRID') return control.data_type!;
  if (control.int32_false_true?.length) return 'INT32';
  if (control.fp32_false_true?.length) return 'FP32';
  return 'BOOL';
}

function flagValue(control: SequenceControl, on: boolean): number {
  const index = on ? 1 : 0;
  if (control.int32_false_true?.length) return control.int32_false_true[index]!;
  if (control.fp32_false_true?.length) return control.fp32_false_true[index]!;
  return control.bool_false_true![index] ? 1 : 0;
}

function corridTensor(name: string, datatype: DataType, id: bigint | string, shape: number[]): Tensor {
  if (datatype === 'BYTES') return { name, datatype, shape, data: [new TextEncoder().encode(String(id))] };
  if (typeof id === 'string') {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `the model's CORRID control is ${datatype}: "sequence_id" must be an integer, not a string`);
  }
  // Triton truncates to the low-order 32 bits for 32-bit controls.
  const data = datatype === 'UINT64' ? BigUint64Array.of(id)
    : datatype === 'INT64' ? BigInt64Array.of(BigInt.asIntN(64, id))
      : datatype === 'UINT32' ? Uint32Array.of(Number(BigInt.asUintN(32, id)))
        : Int32Array.of(Number(BigInt.asIntN(32, id)));
  return { name, datatype, shape, data };
}

/** The control tensors of one request (one batch item). */
export function controlTensors(inputs: readonly ControlInput[], flags: StepFlags, batched: boolean): Tensor[] {
  const shape = batched ? [1, 1] : [1];
  return inputs.map(({ name, control: [control] }) => {
    const datatype = controlDatatype(control!);
    if (control!.kind === 'CONTROL_SEQUENCE_CORRID') return corridTensor(name, datatype, flags.id, shape);
    const on = control!.kind === 'CONTROL_SEQUENCE_START' ? flags.start : control!.kind === 'CONTROL_SEQUENCE_END' ? flags.end : true;
    const value = flagValue(control!, on);
    const data = datatype === 'INT32' ? Int32Array.of(value) : datatype === 'FP32' ? Float32Array.of(value) : Uint8Array.of(value);
    return { name, datatype, shape, data };
  });
}

/** Initial state bytes: zeros, or the row-major contents of a data_file (its size checked). */
export function initialState(datatype: DataType, dims: readonly number[], bytes: Uint8Array | undefined, what: string): NumericArray {
  const { array, size } = dataTypeInfo(datatype);
  if (!array) throw new VireoError('VIREO_ERR_CONFIG_INVALID', `${what}: implicit state must be numeric, not ${datatype}`);
  if (dims.some((d) => d < 0)) throw new VireoError('VIREO_ERR_CONFIG_INVALID', `${what}: the initial state needs fixed dims, got [${dims.join(',')}]`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (!bytes) return new array(count);
  if (bytes.byteLength !== count * size) {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `${what}: the initial state file has ${bytes.byteLength} bytes, dims [${dims.join(',')}] of ${datatype} need ${count * size}`);
  }
  const copy = new Uint8Array(bytes);
  return new array(copy.buffer, 0, count);
}

/** A state as the next request's input: a private copy, since inputs may be moved to a worker. */
export function stateTensor(spec: StateSpec, held: Tensor | undefined, batched: boolean): Tensor {
  if (held) return { name: spec.inputName, datatype: spec.datatype, shape: [...held.shape], data: (held.data as NumericArray).slice() };
  return { name: spec.inputName, datatype: spec.datatype, shape: batched ? [1, ...spec.dims] : [...spec.dims], data: spec.initial.slice() };
}

/** A step's outputs split into those the client sees and the state the next step gets (private copies). */
export function takeState(outputs: readonly Tensor[], stateOutputs: ReadonlySet<string>): { visible: Tensor[]; state: Map<string, Tensor> } {
  const state = new Map<string, Tensor>();
  const visible: Tensor[] = [];
  for (const t of outputs) {
    if (!stateOutputs.has(t.name)) visible.push(t);
    // A private copy: the output may be a view into the whole batch's buffer.
    else state.set(t.name, { ...t, shape: [...t.shape], data: (t.data as Float32Array).slice() });
  }
  return { visible, state };
}
