/**
 * The text codec of one input: strings (BYTES, UTF-8) become token ids with
 * @huggingface/tokenizers, from a tokenizer.json in the model directory (no download, ever). It
 * also fills the model's attention-mask and token-type inputs when the configuration names them.
 * Rows are padded to the longest text of the request (or to max_length); longer texts are cut to
 * max_length keeping the tokenizer's special tokens (e.g. [CLS] … [SEP]).
 */
import type { Tokenizer } from '@huggingface/tokenizers';
import type { DataType } from '../core/datatypes.js';
import { VireoError } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { CodecTensorConfig } from './image-codec.js';
import { readModelFile } from './model-file.js';

/** The `text` key of an input's configuration (model-config.ts validates it). */
export interface TextCodecConfig {
  tokenizer: string;
  tokenizer_config?: string;
  max_length: number;
  padding: 'longest' | 'max_length';
  add_special_tokens: boolean;
  pad_id?: number;
  attention_mask?: string;
  token_type_ids?: string;
}

interface Encoded { ids: number[]; mask: number[]; types: number[] }

const invalid = (message: string): never => {
  throw new VireoError('VIREO_ERR_CONFIG_INVALID', message);
};

export class TextCodec {
  readonly input: string;
  readonly #tokenizer: Tokenizer;
  readonly #spec: TextCodecConfig;
  readonly #padId: number;
  readonly #datatypes: Map<string, DataType>;
  readonly #batched: boolean;
  #maxBatch = Number.MAX_SAFE_INTEGER;

  private constructor(input: string, tokenizer: Tokenizer, spec: TextCodecConfig, padId: number, datatypes: Map<string, DataType>, batched: boolean) {
    this.input = input;
    this.#tokenizer = tokenizer;
    this.#spec = spec;
    this.#padId = padId;
    this.#datatypes = datatypes;
    this.#batched = batched;
  }

  /** `maxBatch`: the model's max_batch_size, checked before any text is decoded or tokenised. */
  static async load(modelDir: string, config: CodecTensorConfig, inputs: readonly CodecTensorConfig[], spec: TextCodecConfig, batched: boolean, maxBatch?: number): Promise<TextCodec> {
    const what = `input "${config.name}": text codec`;
    const datatypes = new Map<string, DataType>();
    for (const name of [config.name, spec.attention_mask, spec.token_type_ids]) {
      if (name === undefined) continue;
      const input = inputs.find((i) => i.name === name);
      if (!input) return invalid(`${what} fills "${name}", which is not an input of the model`);
      if (!['INT64', 'INT32'].includes(input.data_type)) invalid(`${what}: "${name}" must be TYPE_INT64 or TYPE_INT32, not ${input.data_type}`);
      if (input.dims.length !== 1) invalid(`${what}: "${name}" must have dims [-1] (the sequence), not [${input.dims.join(',')}]`);
      datatypes.set(name, input.data_type);
    }
    let json: Record<string, unknown>;
    let extra: Record<string, unknown> = {};
    try {
      json = JSON.parse(await readModelFile(modelDir, spec.tokenizer, `${what}: tokenizer`));
      if (spec.tokenizer_config) extra = JSON.parse(await readModelFile(modelDir, spec.tokenizer_config, `${what}: tokenizer_config`));
    } catch (error) {
      if (error instanceof VireoError) throw error;
      return invalid(`${what}: the tokenizer file is not valid JSON: ${(error as Error).message}`);
    }
    // Loaded with the first model that has a text input.
    const { Tokenizer: TokenizerClass } = await import('@huggingface/tokenizers');
    let tokenizer: Tokenizer;
    try {
      tokenizer = new TokenizerClass(json as never, extra as never);
      tokenizer.encode('probe');
    } catch (error) {
      return invalid(`${what}: @huggingface/tokenizers cannot use ${spec.tokenizer}: ${(error as Error).message}`);
    }
    const padId = spec.pad_id ?? ((json.padding as { pad_id?: number } | null)?.pad_id ?? 0);
    const codec = new TextCodec(config.name, tokenizer, spec, padId, datatypes, batched);
    if (maxBatch !== undefined) codec.#maxBatch = maxBatch;
    return codec;
  }

  /** The ids tensor and, when configured, the attention mask and token types, for every text of `tensor`. */
  decode(tensor: Tensor): Tensor[] {
    // More texts than the model's batch would be refused by validation after tokenising them all.
    if (this.#batched && tensor.data.length > this.#maxBatch) {
      throw new VireoError('VIREO_ERR_BATCH_TOO_LARGE', `inference request batch-size must be <= ${this.#maxBatch} for '${this.input}' (${tensor.data.length} texts, checked before tokenising)`);
    }
    const texts = (tensor.data as Uint8Array[]).map((bytes, i) => {
      try {
        return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch {
        throw new VireoError('VIREO_ERR_INPUT_DATA', `input "${this.input}": element ${i} is not valid UTF-8`);
      }
    });
    const shapeOk = this.#batched ? tensor.shape.slice(1).every((d) => d === 1) : texts.length === 1;
    if (!shapeOk || texts.length === 0) {
      throw new VireoError('VIREO_ERR_INPUT_SHAPE', `input "${this.input}": send one text per element (shape [n] or [n, 1]${this.#batched ? '' : '; this model takes one text'}), got shape [${tensor.shape.join(',')}]`);
    }
    const encoded = texts.map((t) => this.#encode(t));
    const length = this.#spec.padding === 'max_length' ? this.#spec.max_length : Math.max(...encoded.map((e) => e.ids.length));
    const make = (name: string, pick: (e: Encoded) => number[], pad: number): Tensor => {
      const datatype = this.#datatypes.get(name)!;
      const values = new Array<number>(encoded.length * length).fill(pad);
      encoded.forEach((e, r) => pick(e).forEach((v, c) => { values[r * length + c] = v; }));
      const data = datatype === 'INT64' ? BigInt64Array.from(values, (v) => BigInt(v)) : Int32Array.from(values);
      return { name, datatype, shape: this.#batched ? [encoded.length, length] : [length], data };
    };
    const out = [make(this.input, (e) => e.ids, this.#padId)];
    if (this.#spec.attention_mask) out.push(make(this.#spec.attention_mask, (e) => e.mask, 0));
    if (this.#spec.token_type_ids) out.push(make(this.#spec.token_type_ids, (e) => e.types, 0));
    return out;
  }

  #encode(text: string): Encoded {
    const special = this.#spec.add_special_tokens;
    const full = this.#tokenizer.encode(text, { add_special_tokens: special, return_token_type_ids: true });
    const max = this.#spec.max_length;
    if (full.ids.length <= max) return { ids: full.ids, mask: full.attention_mask, types: full.token_type_ids };
    // Too long: cut the text's own tokens, keep the special tokens around them.
    const content: number[] = this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
    const specials = full.ids.length - content.length;
    if (specials >= max) throw new VireoError('VIREO_ERR_INPUT_DATA', `input "${this.input}": max_length ${max} leaves no room for text`);
    let start = 0;
    while (start + content.length <= full.ids.length && content.some((id, k) => full.ids[start + k] !== id)) start++;
    const keep = max - specials;
    const cut = (values: number[]) => [...values.slice(0, start), ...values.slice(start, start + keep), ...values.slice(start + content.length)];
    return { ids: cut(full.ids), mask: cut(full.attention_mask), types: cut(full.token_type_ids) };
  }
}
