/**
 * The image codec of one input: encoded images (JPEG, PNG, WebP… as BYTES elements) become the
 * float or uint8 tensor the model takes, decoded and resized by sharp on libuv's thread pool (the
 * event loop never decodes). Sizes come from the input's dims; `resize` is `fill` (stretch),
 * `fit` (keep the aspect ratio, cover and centre-crop) or `pad` (keep it, letterbox in black).
 * Values are (pixel / 255 − mean) / std per channel, in the configured channel order and layout;
 * UINT8 inputs get the pixels as they are.
 */
import type sharpModule from 'sharp';
import { VireoError } from '../core/errors.js';
import type { DataType } from '../core/datatypes.js';
import type { Tensor } from '../core/tensor.js';
import { RASTER_FORMATS, sniffRasterFormat } from './image-format.js';

/** The `image` key of an input's configuration (model-config.ts validates it). */
export interface ImageCodecConfig {
  resize: 'fit' | 'fill' | 'pad';
  mean?: number[];
  std?: number[];
  channel_order: 'RGB' | 'BGR';
  layout: 'NCHW' | 'NHWC';
  max_pixels: number;
}

export interface CodecTensorConfig {
  name: string;
  data_type: DataType;
  dims: number[];
}

/** sharp (libvips) loads with the first image decoded: a server with no image input never carries it (≈ 9 MiB). */
let sharpLoading: Promise<typeof sharpModule> | undefined;
function loadSharp(): Promise<typeof sharpModule> {
  sharpLoading ??= import('sharp').then((m) => m.default);
  return sharpLoading;
}

const FITS = { fill: 'fill', fit: 'cover', pad: 'contain' } as const;

const invalid = (message: string): never => {
  throw new VireoError('VIREO_ERR_CONFIG_INVALID', message);
};

export class ImageCodec {
  readonly input: string;
  readonly #spec: ImageCodecConfig;
  readonly #width: number;
  readonly #height: number;
  readonly #channels: 1 | 3;
  readonly #mean: number[];
  readonly #std: number[];
  readonly #uint8: boolean;
  readonly #batched: boolean;
  readonly #maxBatch: number;

  /** `maxBatch`: the model's max_batch_size, checked before any image is decoded. */
  constructor(config: CodecTensorConfig, spec: ImageCodecConfig, batched: boolean, maxBatch = Number.MAX_SAFE_INTEGER) {
    const what = `input "${config.name}": image codec`;
    this.input = config.name;
    this.#spec = spec;
    this.#batched = batched;
    this.#maxBatch = maxBatch;
    if (!['FP32', 'UINT8'].includes(config.data_type)) invalid(`${what} needs data_type FP32 or UINT8, not ${config.data_type}`);
    this.#uint8 = config.data_type === 'UINT8';
    if (config.dims.length !== 3) invalid(`${what} needs dims of rank 3 (${spec.layout === 'NCHW' ? '[C, H, W]' : '[H, W, C]'}), got [${config.dims.join(',')}]`);
    const [c, h, w] = spec.layout === 'NCHW' ? config.dims : [config.dims[2]!, config.dims[0]!, config.dims[1]!];
    if (c !== 1 && c !== 3) invalid(`${what} needs 1 or 3 channels, got ${c}`);
    if (h! < 1 || w! < 1) invalid(`${what} needs a fixed height and width, got dims [${config.dims.join(',')}]`);
    this.#channels = c as 1 | 3;
    this.#width = w!;
    this.#height = h!;
    const per = (values: number[] | undefined, fallback: number, name: string) => {
      if (!values) return Array.from({ length: this.#channels }, () => fallback);
      if (values.length === 1) return Array.from({ length: this.#channels }, () => values[0]!);
      if (values.length !== this.#channels) invalid(`${what}: ${name} has ${values.length} values for ${this.#channels} channels`);
      return values;
    };
    this.#mean = per(spec.mean, 0, 'mean');
    this.#std = per(spec.std, 1, 'std');
  }

  /** The model's tensor for a BYTES tensor of one image per element ([n], [n, 1], or [1] unbatched). */
  async decode(tensor: Tensor): Promise<Tensor> {
    const what = `input "${this.input}"`;
    const images = tensor.data as Uint8Array[];
    const expected = this.#batched ? [images.length] : [];
    const shapeOk = this.#batched
      ? tensor.shape.length >= 1 && tensor.shape.slice(1).every((d) => d === 1)
      : images.length === 1;
    if (!shapeOk || images.length === 0) {
      throw new VireoError('VIREO_ERR_INPUT_SHAPE', `${what}: send one encoded image per element (shape [n] or [n, 1]${this.#batched ? '' : '; this model takes one image'}), got shape [${tensor.shape.join(',')}]`);
    }
    // More images than the model's batch would be refused by validation after decoding them all: the
    // work (up to max_pixels each) and the tensor (images × the input's size) are refused first.
    if (this.#batched && images.length > this.#maxBatch) {
      throw new VireoError('VIREO_ERR_BATCH_TOO_LARGE', `inference request batch-size must be <= ${this.#maxBatch} for '${this.input}' (${images.length} images, checked before decoding)`);
    }
    const size = this.#width * this.#height * this.#channels;
    const out = this.#uint8 ? new Uint8Array(images.length * size) : new Float32Array(images.length * size);
    await Promise.all(images.map(async (bytes, i) => this.#write(await this.#pixels(bytes, i), out, i * size)));
    const dims = this.#spec.layout === 'NCHW' ? [this.#channels, this.#height, this.#width] : [this.#height, this.#width, this.#channels];
    return { name: this.input, datatype: this.#uint8 ? 'UINT8' : 'FP32', shape: [...expected, ...dims], data: out };
  }

  async #pixels(bytes: Uint8Array, index: number): Promise<Buffer> {
    const sharp = await loadSharp();
    const what = `input "${this.input}" image ${index}`;
    const limit = this.#spec.max_pixels;
    if (!sniffRasterFormat(bytes)) {
      throw new VireoError('VIREO_ERR_INPUT_DATA', `${what} is not a ${RASTER_FORMATS} image (its first bytes match none of them; vector formats such as SVG are not accepted)`);
    }
    let info: { width?: number; height?: number };
    try {
      info = await sharp(bytes).metadata();
    } catch (error) {
      throw new VireoError('VIREO_ERR_INPUT_DATA', `${what} cannot be decoded: ${(error as Error).message} (expected ${RASTER_FORMATS} bytes)`);
    }
    const pixels = (info.width ?? 0) * (info.height ?? 0);
    if (pixels > limit) throw new VireoError('VIREO_ERR_INPUT_DATA', `${what} has ${info.width}×${info.height} = ${pixels} pixels, more than the limit of ${limit}`);
    try {
      let image = sharp(bytes, { limitInputPixels: limit, failOn: 'truncated' }).rotate().flatten({ background: '#000000' });
      image = this.#channels === 1 ? image.greyscale() : image.toColourspace('srgb');
      return await image
        .resize(this.#width, this.#height, { fit: FITS[this.#spec.resize], position: 'centre', background: '#000000' })
        .removeAlpha()
        .raw()
        .toBuffer();
    } catch (error) {
      throw new VireoError('VIREO_ERR_INPUT_DATA', `${what} cannot be decoded: ${(error as Error).message}`);
    }
  }

  /** Interleaved RGB (or grey) pixels into the configured layout and channel order. */
  #write(pixels: Buffer, out: Float32Array | Uint8Array, offset: number): void {
    const c = this.#channels;
    const plane = this.#width * this.#height;
    if (pixels.byteLength !== plane * c) throw new VireoError('VIREO_ERR_INTERNAL', `decoded image has ${pixels.byteLength} bytes, expected ${plane * c}`);
    const bgr = this.#spec.channel_order === 'BGR' && c === 3;
    const nchw = this.#spec.layout === 'NCHW';
    for (let ch = 0; ch < c; ch++) {
      const source = bgr ? 2 - ch : ch;
      const mean = this.#mean[ch]!;
      const std = this.#std[ch]!;
      for (let p = 0; p < plane; p++) {
        const value = pixels[p * c + source]!;
        const at = offset + (nchw ? ch * plane + p : p * c + ch);
        out[at] = this.#uint8 ? value : (value / 255 - mean) / std;
      }
    }
  }
}
