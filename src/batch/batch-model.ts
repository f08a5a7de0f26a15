/**
 * What a batch run derives from a model's configuration, the same for `vireo batch` and the
 * server's `/v1/batches`: how JSONL lines become its requests (`JsonlModel`), how many rows make a
 * batch, and how many batches are in flight.
 */
import type { InferRequest } from '../core/inference.js';
import type { ModelConfig } from '../repository/model-config.js';
import type { InferenceServer } from '../server/inference-server.js';
import type { JsonlModel } from './jsonl-rows.js';

/** The inputs that take an encoded file or text per row (image codec, text codec, or BYTES). */
export function bytesInputs(config: ModelConfig): string[] {
  return config.input.filter((i) => i.data_type === 'BYTES' || i.image || i.text).map((i) => i.name);
}

/** Batches in flight: one per instance, and one more being built so no instance waits. */
export function inflightBatches(config: ModelConfig): number {
  return config.instance_group.reduce((n, g) => n + (g.count ?? 1), 0) + 1;
}

/** A REST frontend's OIP JSON parser (handed in: the engine imports no wire code). */
export type OipRequestParser = (body: Record<string, unknown>, model: string, version: string | undefined) => InferRequest;

/**
 * How JSONL lines become requests of `model`. Without a configuration (a model not loaded yet) lines
 * are read as for a model without batching, one request each; they then answer the model's error.
 */
export function jsonlModel(
  server: Pick<InferenceServer, 'dataframeRequest'>,
  model: string,
  version: string | undefined,
  config: ModelConfig | undefined,
  oipRequest: OipRequestParser,
): JsonlModel {
  return {
    model, version,
    batched: (config?.max_batch_size ?? 0) > 0,
    sequence: config?.sequence_batching !== undefined,
    bytesInputs: config ? bytesInputs(config) : [],
    dataframeRequest: (table) => server.dataframeRequest(model, version, table),
    oipRequest: (body) => oipRequest(body, model, version),
  };
}
