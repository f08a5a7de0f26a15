/**
 * What a model's configuration asks of the edge, decided once when the model loads: which inputs
 * take encoded images (image-codec.ts), which outputs have labels for the classification
 * extension, which inputs a dataframe fills. The facade runs `decodeInputs` before validating a
 * request and `encodeOutputs` on its response.
 */
import { readFile, realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { VireoError } from '../core/errors.js';
import type { InferRequest, RequestedOutput } from '../core/inference.js';
import type { Tensor } from '../core/tensor.js';
import { classificationCount, classify } from './classification.js';
import { dataframeColumns, tableToInputs, type Table } from './dataframe-codec.js';
import { ImageCodec, type CodecTensorConfig, type ImageCodecConfig } from './image-codec.js';

export interface CodecModelConfig {
  max_batch_size: number;
  input: (CodecTensorConfig & { image?: ImageCodecConfig; columns?: string[] })[];
  output: (CodecTensorConfig & { label_filename?: string })[];
}

/** A labels file inside the model directory: one label per line, line i for class i. */
async function readLabels(modelDir: string, file: string, output: string): Promise<string[]> {
  const root = await realpath(modelDir);
  let path: string;
  try {
    path = await realpath(resolve(root, file));
  } catch {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `output "${output}": label_filename "${file}" does not exist in the model directory`);
  }
  if (!path.startsWith(root + sep)) throw new VireoError('VIREO_ERR_CONFIG_INVALID', `output "${output}": label_filename "${file}" is outside the model directory`);
  const lines = (await readFile(path, 'utf8')).split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

export class ModelCodecs {
  readonly #images: Map<string, ImageCodec>;
  readonly #labels: Map<string, string[]>;
  readonly #batched: boolean;
  readonly #inputs: CodecModelConfig['input'];
  /** Which columns fill which input, or why this model cannot take a dataframe. */
  readonly #columns: Map<string, string[]> | string;

  private constructor(config: CodecModelConfig, images: Map<string, ImageCodec>, labels: Map<string, string[]>) {
    this.#images = images;
    this.#labels = labels;
    this.#batched = config.max_batch_size > 0;
    this.#inputs = config.input;
    this.#columns = dataframeColumns(config.input);
  }

  static async build(config: CodecModelConfig, modelDir: string): Promise<ModelCodecs> {
    const batched = config.max_batch_size > 0;
    const images = new Map<string, ImageCodec>();
    for (const input of config.input) if (input.image) images.set(input.name, new ImageCodec(input, input.image, batched));
    const labels = new Map<string, string[]>();
    for (const output of config.output) {
      if (output.label_filename) labels.set(output.name, await readLabels(modelDir, output.label_filename, output.name));
    }
    return new ModelCodecs(config, images, labels);
  }

  /** A dataframe's columns as the model's inputs, one row per batch item. */
  dataframeInputs(table: Table, model: string): Tensor[] {
    if (typeof this.#columns === 'string') {
      throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `model "${model}" does not take dataframes: ${this.#columns}`);
    }
    return tableToInputs(table, this.#inputs, this.#columns, this.#batched);
  }

  /** Whether an input takes encoded bytes from a client (an upload may fill it). */
  takesBytes(input: string): boolean {
    return this.#images.has(input);
  }

  /** Encoded images sent as BYTES for an image input become the model's tensor. */
  async decodeInputs(request: InferRequest): Promise<InferRequest> {
    if (this.#images.size === 0) return request;
    const inputs = await Promise.all(request.inputs.map((t) => {
      const codec = this.#images.get(t.name);
      return codec && t.datatype === 'BYTES' ? codec.decode(t) : t;
    }));
    return { ...request, inputs };
  }

  /** Outputs requested with the classification parameter become top-k strings. */
  encodeOutputs(outputs: Tensor[], requested: readonly RequestedOutput[] | undefined): Tensor[] {
    if (!requested?.some((r) => r.parameters?.classification !== undefined)) return outputs;
    return outputs.map((t) => {
      const k = classificationCount(requested.find((r) => r.name === t.name)?.parameters, t.name);
      return k === undefined ? t : classify(t, k, this.#labels.get(t.name), this.#batched);
    });
  }
}
