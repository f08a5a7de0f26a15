/**
 * The model configuration schema (Triton's model_config.proto names, snake_case as in config.pbtxt),
 * validated with zod. Unknown keys are refused with their path so a typo never passes silently.
 */
import { z } from 'zod';
import { parseDataType, type DataType } from '../core/datatypes.js';
import { VireoError } from '../core/errors.js';

const dataTypeSchema = z.string().transform((spelling, ctx): DataType => {
  const parsed = parseDataType(spelling);
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: `unknown datatype "${spelling}" (expected e.g. FP32 or TYPE_FP32)` });
    return z.NEVER;
  }
  return parsed;
});

const dimsSchema = z.array(z.number().int().min(-1));

/** Vireo's image codec: the input takes encoded images (BYTES) and the server makes the tensor. */
const imageCodecSchema = z.strictObject({
  resize: z.enum(['fit', 'fill', 'pad']).default('fill'),
  mean: z.array(z.number()).min(1).max(4).optional(),
  std: z.array(z.number().positive()).min(1).max(4).optional(),
  channel_order: z.enum(['RGB', 'BGR']).default('RGB'),
  layout: z.enum(['NCHW', 'NHWC']).default('NCHW'),
  /** Images with more pixels are refused before they are decoded. */
  max_pixels: z.number().int().positive().default(40_000_000),
});

/** Vireo's text codec: the input takes strings, tokenised with the model directory's tokenizer.json. */
const textCodecSchema = z.strictObject({
  tokenizer: z.string().min(1).default('tokenizer.json'),
  tokenizer_config: z.string().min(1).optional(),
  max_length: z.number().int().min(1).max(1_000_000).default(512),
  padding: z.enum(['longest', 'max_length']).default('longest'),
  add_special_tokens: z.boolean().default(true),
  pad_id: z.number().int().min(0).optional(),
  /** Other inputs of the model the codec fills alongside the ids. */
  attention_mask: z.string().min(1).optional(),
  token_type_ids: z.string().min(1).optional(),
});

const tensorConfigSchema = z.strictObject({
  name: z.string().min(1),
  data_type: dataTypeSchema,
  dims: dimsSchema,
  /** Triton's reshape: the shape the model sees, when it differs from the one clients send. */
  reshape: z.strictObject({ shape: dimsSchema }).optional(),
  optional: z.boolean().optional(),
  /** Triton's ModelInput.format: the layout an image input takes (clients read it; Vireo only reports it). */
  format: z.enum(['FORMAT_NONE', 'FORMAT_NCHW', 'FORMAT_NHWC']).optional(),
  label_filename: z.string().optional(),
  image: imageCodecSchema.optional(),
  text: textCodecSchema.optional(),
  /** Dataframe requests: the columns (in order) that make up this input's last dimension. */
  columns: z.array(z.string().min(1)).min(1).optional(),
});

const instanceGroupSchema = z.strictObject({
  name: z.string().optional(),
  count: z.number().int().min(1).max(64).default(1),
  kind: z.enum(['KIND_AUTO', 'KIND_CPU', 'KIND_GPU']).default('KIND_AUTO'),
  gpus: z.array(z.number().int().min(0)).optional(),
});

const versionPolicySchema = z.union([
  z.strictObject({ latest: z.strictObject({ num_versions: z.number().int().min(1) }) }),
  z.strictObject({ all: z.strictObject({}) }),
  z.strictObject({ specific: z.strictObject({ versions: z.array(z.number().int().min(1)).min(1) }) }),
]);

/** Triton writes parameters as `{key: {string_value: "4"}}`; plain `{key: 4}` is accepted too. */
const parameterValueSchema = z.union([
  z.string(), z.number(), z.boolean(),
  z.strictObject({ string_value: z.string() }).transform((v) => v.string_value),
]);

const acceleratorSchema = z.strictObject({
  name: z.string(),
  parameters: z.record(z.string(), z.string()).optional(),
});

const optimizationSchema = z.strictObject({
  execution_accelerators: z.strictObject({
    gpu_execution_accelerator: z.array(acceleratorSchema).optional(),
    cpu_execution_accelerator: z.array(acceleratorSchema).optional(),
  }).optional(),
  graph: z.strictObject({ level: z.number().int() }).optional(),
});

const queuePolicySchema = z.strictObject({
  timeout_action: z.enum(['REJECT', 'DELAY']).default('REJECT'),
  default_timeout_microseconds: z.number().int().min(0).default(0),
  allow_timeout_override: z.boolean().default(false),
  max_queue_size: z.number().int().min(0).default(0),
});

const dynamicBatchingSchema = z.strictObject({
  preferred_batch_size: z.array(z.number().int().min(1)).default([]),
  max_queue_delay_microseconds: z.number().int().min(0).default(0),
  preserve_ordering: z.boolean().default(false),
  priority_levels: z.number().int().min(0).default(0),
  default_priority_level: z.number().int().min(0).default(0),
  default_queue_policy: queuePolicySchema.optional(),
  priority_queue_policy: z.record(z.string(), queuePolicySchema).optional(),
  adaptive: z.strictObject({ target_latency_ms: z.number().positive() }).optional(),
});

/** Triton's ModelWarmup: a named sample executed `count` times on every instance before READY. */
const warmupInputSchema = z.strictObject({
  data_type: dataTypeSchema,
  dims: z.array(z.number().int().min(0)),
  zero_data: z.boolean().optional(),
  random_data: z.boolean().optional(),
  /** A file under `<model>/warmup/` holding the raw row-major bytes of one item or the whole batch. */
  input_data_file: z.string().min(1).optional(),
}).refine((i) => [i.zero_data, i.random_data, i.input_data_file !== undefined].filter(Boolean).length === 1, {
  message: 'set exactly one of zero_data, random_data and input_data_file',
});

const warmupSchema = z.strictObject({
  name: z.string().min(1),
  batch_size: z.number().int().min(0).default(1),
  inputs: z.record(z.string(), warmupInputSchema),
  count: z.number().int().min(0).max(1000).default(0),
});

/** Triton's ModelEnsembling.Step: maps are model tensor name → ensemble tensor name. */
const ensembleStepSchema = z.strictObject({
  model_name: z.string().min(1),
  model_version: z.union([z.number().int(), z.string().regex(/^-?\d+$/).transform(Number)]).default(-1),
  input_map: z.record(z.string(), z.string().min(1)).default({}),
  output_map: z.record(z.string(), z.string().min(1)).default({}),
});

const ensembleSchedulingSchema = z.strictObject({
  step: z.array(ensembleStepSchema).min(1),
  max_inflight_requests: z.number().int().min(0).optional(),
});

/** Triton's ModelSequenceBatching.Control: how one control value reaches the model. */
const sequenceControlSchema = z.strictObject({
  kind: z.enum(['CONTROL_SEQUENCE_START', 'CONTROL_SEQUENCE_READY', 'CONTROL_SEQUENCE_END', 'CONTROL_SEQUENCE_CORRID']),
  int32_false_true: z.array(z.number().int()).length(2).optional(),
  fp32_false_true: z.array(z.number()).length(2).optional(),
  bool_false_true: z.array(z.boolean()).length(2).optional(),
  data_type: dataTypeSchema.optional(),
});

const sequenceInitialStateSchema = z.strictObject({
  data_type: dataTypeSchema,
  dims: z.array(z.number().int().min(0)),
  zero_data: z.boolean().optional(),
  /** A file under `<model>/initial_state/` with the row-major bytes of the state. */
  data_file: z.string().min(1).optional(),
  name: z.string().optional(),
}).refine((s) => (s.zero_data !== undefined) !== (s.data_file !== undefined), { message: 'set exactly one of zero_data and data_file' });

/** Triton's implicit state: fed to `input_name`, taken back from `output_name` after each request. */
const sequenceStateSchema = z.strictObject({
  input_name: z.string().min(1),
  output_name: z.string().min(1),
  data_type: dataTypeSchema,
  dims: dimsSchema,
  initial_state: z.array(sequenceInitialStateSchema).max(1).default([]),
  use_same_buffer_for_input_output: z.boolean().optional(),
  use_growable_memory: z.boolean().optional(),
});

const sequenceBatchingSchema = z.strictObject({
  /** 0 or absent: Triton's default of one second. */
  max_sequence_idle_microseconds: z.number().int().min(0).default(0),
  control_input: z.array(z.strictObject({ name: z.string().min(1), control: z.array(sequenceControlSchema).min(1) })).default([]),
  state: z.array(sequenceStateSchema).default([]),
  direct: z.strictObject({
    max_queue_delay_microseconds: z.number().int().min(0).default(0),
    minimum_slot_utilization: z.number().min(0).max(1).default(0),
  }).optional(),
  oldest: z.strictObject({
    max_candidate_sequences: z.number().int().min(0).default(0),
    preferred_batch_size: z.array(z.number().int().min(1)).default([]),
    max_queue_delay_microseconds: z.number().int().min(0).default(0),
    preserve_ordering: z.boolean().default(false),
  }).optional(),
  iterative_sequence: z.literal(false).optional(),
  /** Vireo: sequences waiting for a slot beyond which a new sequence is refused (Triton's backlog is unbounded). */
  max_sequence_backlog: z.number().int().min(0).max(1_000_000).default(1000),
}).refine((s) => !(s.direct && s.oldest), { message: 'set at most one of direct and oldest' });

/** Triton's ModelTransactionPolicy: a decoupled model answers a request with 0..N responses. */
const transactionPolicySchema = z.strictObject({ decoupled: z.boolean().default(false) });

/** Triton's ModelResponseCache: the server's response cache (--cache-config) serves this model. */
const responseCacheSchema = z.strictObject({ enable: z.boolean().default(false) });

export const modelConfigSchema = z.strictObject({
  name: z.string().min(1).optional(),
  backend: z.enum(['onnx', 'onnxruntime', 'typescript']).optional(),
  platform: z.enum(['onnxruntime_onnx', 'ensemble']).optional(),
  max_batch_size: z.number().int().min(0).optional(),
  input: z.array(tensorConfigSchema).optional(),
  output: z.array(tensorConfigSchema).optional(),
  instance_group: z.array(instanceGroupSchema).optional(),
  version_policy: versionPolicySchema.optional(),
  parameters: z.record(z.string(), parameterValueSchema).optional(),
  default_model_filename: z.string().min(1).optional(),
  optimization: optimizationSchema.optional(),
  /** A simpler spelling of optimization.execution_accelerators: tried in order, CPU last. */
  execution_providers: z.array(z.string()).optional(),
  dynamic_batching: dynamicBatchingSchema.optional(),
  model_warmup: z.array(warmupSchema).optional(),
  ensemble_scheduling: ensembleSchedulingSchema.optional(),
  sequence_batching: sequenceBatchingSchema.optional(),
  model_transaction_policy: transactionPolicySchema.optional(),
  response_cache: responseCacheSchema.optional(),
});

export type RawModelConfig = z.input<typeof modelConfigSchema>;
export type ParsedModelConfig = z.output<typeof modelConfigSchema>;
export type TensorConfig = z.output<typeof tensorConfigSchema>;
export type QueuePolicyConfig = z.output<typeof queuePolicySchema>;
export type DynamicBatchingConfig = z.output<typeof dynamicBatchingSchema>;
export type WarmupSample = z.output<typeof warmupSchema>;
export type ImageCodecConfig = z.output<typeof imageCodecSchema>;
export type EnsembleStepConfig = z.output<typeof ensembleStepSchema>;
export type SequenceBatchingConfig = z.output<typeof sequenceBatchingSchema>;
export type SequenceControlConfig = z.output<typeof sequenceControlSchema>;
export type SequenceStateConfig = z.output<typeof sequenceStateSchema>;

/** A complete configuration: what remains after parsing, auto-complete and defaults. */
export interface ModelConfig extends Omit<ParsedModelConfig, 'backend'> {
  name: string;
  /** Empty for an ensemble, as in Triton (its platform is "ensemble"). */
  backend: 'onnx' | 'typescript' | '';
  max_batch_size: number;
  input: TensorConfig[];
  output: TensorConfig[];
  instance_group: z.output<typeof instanceGroupSchema>[];
  version_policy: z.output<typeof versionPolicySchema>;
  default_model_filename: string;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
  if (issue.code === 'unrecognized_keys') {
    const keys = (issue as { keys: string[] }).keys;
    return keys.map((k) => `${path === '(root)' ? k : `${path}.${k}`}: unknown key`).join('; ');
  }
  return `${path}: ${issue.message}`;
}

/** Parses a config object; every problem is reported in one message, each with its key path. */
export function parseModelConfig(raw: unknown, source: string): ParsedModelConfig {
  const result = modelConfigSchema.safeParse(raw ?? {});
  if (!result.success) {
    const details = result.error.issues.map(formatIssue).join('; ');
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `invalid model configuration ${source}: ${details}`);
  }
  return result.data;
}

export function parameterNumber(config: ParsedModelConfig, key: string): number | undefined {
  const value = config.parameters?.[key];
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `parameters.${key}: expected a number, got "${String(value)}"`);
  }
  return n;
}
