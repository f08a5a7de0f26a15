/**
 * Vireo's ModelConfig (snake_case, as config.pbtxt) → Triton's `inference.ModelConfig` message
 * (model_config.proto), for the ModelConfig RPC. Field names already agree; what changes is the
 * spelling of enums (TYPE_FP32), the backend name Triton uses for ONNX Runtime, parameters as
 * `{string_value}` and the scheduling oneof. Vireo-only keys with no proto field
 * (`execution_providers`, `dynamic_batching.adaptive`) are left out; GET .../config shows them.
 */
import { tritonSpelling } from '../../core/datatypes.js';
import type { DynamicBatchingConfig, ModelConfig, QueuePolicyConfig, SequenceBatchingConfig, TensorConfig } from '../../repository/model-config.js';

type Message = Record<string, unknown>;

/** ModelInput has `optional`, ModelOutput has `label_filename`; each gets only its own. */
function tensor(t: TensorConfig, kind: 'input' | 'output'): Message {
  return {
    name: t.name,
    data_type: tritonSpelling(t.data_type),
    dims: [...t.dims],
    ...(t.reshape ? { reshape: { shape: [...t.reshape.shape] } } : {}),
    ...(kind === 'input' && t.optional !== undefined ? { optional: t.optional } : {}),
    ...(kind === 'output' && t.label_filename !== undefined ? { label_filename: t.label_filename } : {}),
  };
}

function queuePolicy(p: QueuePolicyConfig): Message {
  return {
    timeout_action: p.timeout_action,
    default_timeout_microseconds: p.default_timeout_microseconds,
    allow_timeout_override: p.allow_timeout_override,
    max_queue_size: p.max_queue_size,
  };
}

function dynamicBatching(db: DynamicBatchingConfig): Message {
  const priorityPolicies: Record<string, Message> = {};
  for (const [level, policy] of Object.entries(db.priority_queue_policy ?? {})) priorityPolicies[level] = queuePolicy(policy);
  return {
    preferred_batch_size: [...db.preferred_batch_size],
    max_queue_delay_microseconds: db.max_queue_delay_microseconds,
    preserve_ordering: db.preserve_ordering,
    priority_levels: db.priority_levels,
    default_priority_level: db.default_priority_level,
    ...(db.default_queue_policy ? { default_queue_policy: queuePolicy(db.default_queue_policy) } : {}),
    priority_queue_policy: priorityPolicies,
  };
}

/** Datatypes spelled TYPE_*; Vireo's max_sequence_backlog has no proto field. */
function sequenceBatching(sb: SequenceBatchingConfig): Message {
  const { max_sequence_backlog: _vireoOnly, ...rest } = sb;
  return {
    ...rest,
    control_input: sb.control_input.map((c) => ({
      name: c.name,
      control: c.control.map((k) => ({ ...k, ...(k.data_type ? { data_type: tritonSpelling(k.data_type) } : {}) })),
    })),
    state: sb.state.map((st) => ({
      ...st,
      data_type: tritonSpelling(st.data_type),
      initial_state: st.initial_state.map((i) => ({ ...i, data_type: tritonSpelling(i.data_type) })),
    })),
  };
}

export function toTritonModelConfig(config: ModelConfig): Message {
  const parameters: Record<string, { string_value: string }> = {};
  for (const [key, value] of Object.entries(config.parameters ?? {})) parameters[key] = { string_value: String(value) };
  return {
    name: config.name,
    platform: config.platform ?? 'onnxruntime_onnx',
    // Triton's ONNX Runtime backend is called "onnxruntime"; Vireo accepts both spellings.
    backend: 'onnxruntime',
    version_policy: config.version_policy,
    max_batch_size: config.max_batch_size,
    input: config.input.map((t) => tensor(t, 'input')),
    output: config.output.map((t) => tensor(t, 'output')),
    instance_group: config.instance_group.map((g) => ({
      ...(g.name !== undefined ? { name: g.name } : {}),
      count: g.count,
      kind: g.kind,
      gpus: [...(g.gpus ?? [])],
    })),
    default_model_filename: config.default_model_filename,
    parameters,
    ...(config.optimization ? { optimization: config.optimization } : {}),
    ...(config.dynamic_batching ? { dynamic_batching: dynamicBatching(config.dynamic_batching) } : {}),
    ...(config.sequence_batching ? { sequence_batching: sequenceBatching(config.sequence_batching) } : {}),
    ...(config.model_transaction_policy ? { model_transaction_policy: config.model_transaction_policy } : {}),
    ...(config.response_cache ? { response_cache: config.response_cache } : {}),
  };
}
