/**
 * What a model's configuration asks of the edge, decided once when the model loads: which inputs
 * take encoded images (image-codec.ts), which outputs have labels for the classification
 * extension, which inputs a dataframe fills. The facade runs `decodeInputs` before validating a
 * request and `encodeOutputs` on its response.
 */
import { VireoError } from '../core/errors.js';
import type { InferRequest, RequestedOutput } from '../core/inference.js';
import type { Tensor } from '../core/tensor.js';
import { classificationCount, classify } from './classification.js';
import { dataframeColumns, tableToInputs, type Table } from './dataframe-codec.js';
import { ImageCodec, type CodecTensorConfig, type ImageCodecConfig } from './image-codec.js';
import { readModelFile } from './model-file.js';
import { TextCodec, type TextCodecConfig } from './text-codec.js';

export interface CodecModelConfig {
  max_batch_size: number;
  input: (CodecTensorConfig & { image?: ImageCodecConfig; text?: TextCodecConfig; columns?: string[] })[];
  output: (CodecTensorConfig & { label_filename?: string })[];
}

/** A labels file inside the model directory: one label per line, line i for class i. */
async function readLabels(modelDir: string, file: string, output: string): Promise<string[]> {
  const lines = (await readModelFile(modelDir, file, `output "${output}": label_filename`)).split(/\r?\n/);
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

export class ModelCodecs {
  readonly #images: Map<string, ImageCodec>;
  readonly #texts: Map<string, TextCodec>;
  readonly #labels: Map<string, string[]>;
  readonly #batched: boolean;
  readonly #inputs: CodecModelConfig['input'];
  /** Which columns fill which input, or why this model cannot take a dataframe. */
  readonly #columns: Map<string, string[]> | string;

  private constructor(config: CodecModelConfig, images: Map<string, ImageCodec>, texts: Map<string, TextCodec>, labels: Map<string, string[]>) {
    this.#images = images;
    this.#texts = texts;
    this.#labels = labels;
    this.#batched = config.max_batch_size > 0;
    this.#inputs = config.input;
    this.#columns = dataframeColumns(config.input);
  }

  static async build(config: CodecModelConfig, modelDir: string): Promise<ModelCodecs> {
    const batched = config.max_batch_size > 0;
    const images = new Map<string, ImageCodec>();
    for (const input of config.input) if (input.image) images.set(input.name, new ImageCodec(input, input.image, batched, config.max_batch_size));
    const texts = new Map<string, TextCodec>();
    for (const input of config.input) if (input.text) texts.set(input.name, await TextCodec.load(modelDir, input, config.input, input.text, batched, config.max_batch_size));
    const labels = new Map<string, string[]>();
    for (const output of config.output) {
      if (output.label_filename) labels.set(output.name, await readLabels(modelDir, output.label_filename, output.name));
    }
    return new ModelCodecs(config, images, texts, labels);
  }

  /**
   * Only the dataframe mapping (`dataframeInputs`), from the config alone: what a batch job's reading
   * thread needs to read a dataframe body as the REST route does, without loading tokenizers or labels.
   */
  static dataframesOnly(config: CodecModelConfig): ModelCodecs {
    return new ModelCodecs(config, new Map(), new Map(), new Map());
  }

  /** A dataframe's columns as the model's inputs, one row per batch item (see tableToInputs for `perRequestBounds`). */
  dataframeInputs(table: Table, model: string, perRequestBounds = true): Tensor[] {
    if (typeof this.#columns === 'string') {
      throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `model "${model}" does not take dataframes: ${this.#columns}`);
    }
    return tableToInputs(table, this.#inputs, this.#columns, this.#batched, perRequestBounds);
  }

  /** Whether an input takes encoded bytes from a client (an upload may fill it). */
  takesBytes(input: string): boolean {
    return this.#images.has(input);
  }

  /**
   * Encoded images sent as BYTES for an image input become the model's tensor; strings for a text
   * input become token ids (and the mask and token types it fills, replacing any sent).
   */
  async decodeInputs(request: InferRequest): Promise<InferRequest> {
    if (this.#images.size === 0 && this.#texts.size === 0) return request;
    const decoded = await Promise.all(request.inputs.map(async (t): Promise<Tensor[]> => {
      if (t.datatype !== 'BYTES') return [t];
      const image = this.#images.get(t.name);
      if (image) return [await image.decode(t)];
      const text = this.#texts.get(t.name);
      return text ? text.decode(t) : [t];
    }));
    const produced = new Set(decoded.filter((d, i) => d.length > 1 || d[0] !== request.inputs[i]).flat().map((t) => t.name));
    const inputs = decoded.flatMap((d, i) => (d.length === 1 && d[0] === request.inputs[i] && produced.has(d[0]!.name) ? [] : d));
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
