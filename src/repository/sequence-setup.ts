/**
 * Load-time side of sequence batching: which model tensors the server feeds itself (control and
 * state inputs, state outputs: never in the client-facing config), the checks of the
 * `sequence_batching` block against the model, and the options of the SequenceBatcher
 * (initial states read from `<model>/initial_state/`).
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelSignature } from '../backends/backend.js';
import { VireoError } from '../core/errors.js';
import type { ModelInstance } from '../backends/backend.js';
import type { SchedulerRecorder } from '../scheduler/recorder.js';
import type { SequenceBatcherOptions } from '../scheduler/sequence-batcher.js';
import { checkControls, controlDatatype, initialState, type StateSpec } from '../scheduler/sequence-tensors.js';
import type { ModelConfig, ParsedModelConfig } from './model-config.js';
import { existingInside, relativeSegments } from './safe-path.js';

const MAX_INITIAL_STATE_BYTES = 64 * 1024 * 1024;

const fail = (message: string): never => {
  throw new VireoError('VIREO_ERR_CONFIG_INVALID', message);
};

/** Model tensors the sequence batcher supplies or consumes, which clients never send or receive. */
export function implicitTensors(parsed: ParsedModelConfig): { inputs: Set<string>; outputs: Set<string> } {
  const sb = parsed.sequence_batching;
  return {
    inputs: new Set([...(sb?.control_input ?? []).map((c) => c.name), ...(sb?.state ?? []).map((s) => s.input_name)]),
    outputs: new Set((sb?.state ?? []).map((s) => s.output_name)),
  };
}

/** Checks the block against the model and the rest of the configuration (Triton's rules). */
export function checkSequenceConfig(config: ModelConfig, signature: ModelSignature): void {
  const sb = config.sequence_batching;
  if (!sb) return;
  if (config.dynamic_batching) fail('set at most one of dynamic_batching and sequence_batching');
  if (config.model_transaction_policy?.decoupled) fail('sequence_batching with a decoupled model is not supported');
  checkControls(sb.control_input);
  const batch = config.max_batch_size > 0 ? 1 : 0;
  const expect = (name: string, role: 'input' | 'output', datatype: string, what: string) => {
    const list = role === 'input' ? signature.inputs : signature.outputs;
    const tensor = list.find((t) => t.name === name);
    if (!tensor) fail(`sequence_batching: ${what} "${name}" is not an ${role} of the model (it has ${list.map((t) => t.name).join(', ') || 'none'})`);
    if (tensor!.datatype && tensor!.datatype !== datatype) fail(`sequence_batching: ${what} "${name}" is ${datatype} in the configuration but ${tensor!.datatype} in the model`);
    if ([...config.input, ...config.output].some((t) => t.name === name)) fail(`sequence_batching: "${name}" is fed by the server; remove it from ${role}`);
  };
  for (const c of sb.control_input) expect(c.name, 'input', controlDatatype(c.control[0]!), 'control input');
  for (const s of sb.state) {
    expect(s.input_name, 'input', s.data_type, 'state input');
    expect(s.output_name, 'output', s.data_type, 'state output');
    if (batch && signature.inputs.find((t) => t.name === s.input_name)?.dims[0] !== -1) {
      fail(`sequence_batching: state "${s.input_name}" must have the batch dimension first when max_batch_size > 0`);
    }
  }
}

async function initialBytes(modelDir: string, file: string, what: string): Promise<Uint8Array> {
  const path = await existingInside(join(modelDir, 'initial_state'), relativeSegments(file, what), what);
  if ((await stat(path)).size > MAX_INITIAL_STATE_BYTES) fail(`${what}: ${file} is larger than ${MAX_INITIAL_STATE_BYTES} bytes`);
  return new Uint8Array(await readFile(path));
}

export async function sequenceBatcherOptions(
  config: ModelConfig, modelDir: string, instances: readonly ModelInstance[], recorder: SchedulerRecorder | undefined,
): Promise<SequenceBatcherOptions> {
  const sb = config.sequence_batching!;
  const states: StateSpec[] = [];
  for (const s of sb.state) {
    const what = `sequence_batching.state "${s.input_name}"`;
    const init = s.initial_state[0];
    if (init && init.data_type !== s.data_type) fail(`${what}: initial_state data_type ${init.data_type} differs from the state's ${s.data_type}`);
    const dims = init?.dims ?? s.dims;
    const bytes = init?.data_file !== undefined ? await initialBytes(modelDir, init.data_file, `${what} initial_state`) : undefined;
    states.push({ inputName: s.input_name, outputName: s.output_name, datatype: s.data_type, dims, initial: initialState(s.data_type, dims, bytes, what) });
  }
  const strategy: SequenceBatcherOptions['strategy'] = sb.oldest
    ? { kind: 'oldest', maxCandidateSequences: sb.oldest.max_candidate_sequences, preferredBatchSize: sb.oldest.preferred_batch_size, maxQueueDelayUs: sb.oldest.max_queue_delay_microseconds, preserveOrdering: sb.oldest.preserve_ordering }
    : { kind: 'direct', maxQueueDelayUs: sb.direct?.max_queue_delay_microseconds ?? 0, minimumSlotUtilization: sb.direct?.minimum_slot_utilization ?? 0 };
  return {
    model: config.name,
    instances,
    maxBatchSize: config.max_batch_size,
    controls: sb.control_input,
    states,
    maxSequenceIdleUs: sb.max_sequence_idle_microseconds,
    strategy,
    maxBacklog: sb.max_sequence_backlog,
    recorder,
  };
}
