/**
 * Image handling for the OCR handler: decoding (sharp, off this thread's JS), crops and rotations
 * of the decoded RGB pixels, and the resize + normalise into the CHW float tensors PaddleOCR's
 * models expect (BGR channel order, as PaddleOCR feeds them from OpenCV).
 */
import type { Sharp, SharpOptions } from 'sharp';

type SharpFactory = (input?: Uint8Array, options?: SharpOptions) => Sharp;
let loadingSharp: Promise<SharpFactory> | undefined;
/**
 * sharp (libvips: ≈ 29 MiB resident once loaded) comes with the first image, not with the model, so a
 * server that has not yet been sent an image does not pay for it.
 */
async function sharp(input: Uint8Array, options?: SharpOptions): Promise<Sharp> {
  loadingSharp ??= import('sharp').then((module) => module.default as SharpFactory);
  return (await loadingSharp)(input, options);
}

export interface RgbImage { data: Uint8Array; width: number; height: number }

/** An error the server reports as 400: the client sent something that is not a usable image. */
export function badInput(message: string): Error {
  return Object.assign(new Error(message), { code: 'VIREO_ERR_INPUT_DATA' });
}

export async function decodeImage(bytes: Uint8Array, maxPixels: number): Promise<RgbImage> {
  let meta: Awaited<ReturnType<Sharp['metadata']>>;
  try {
    meta = await (await sharp(bytes)).metadata();
  } catch (error) {
    throw badInput(`the image cannot be decoded: ${(error as Error).message} (expected JPEG, PNG or WebP bytes)`);
  }
  const pixels = (meta.width ?? 0) * (meta.height ?? 0);
  if (pixels > maxPixels) throw badInput(`the image has ${meta.width}×${meta.height} = ${pixels} pixels, more than the limit of ${maxPixels}`);
  try {
    const { data, info } = await (await sharp(bytes, { limitInputPixels: maxPixels, failOn: 'truncated' }))
      .rotate()
      .flatten({ background: '#ffffff' })
      .toColourspace('srgb')
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
  } catch (error) {
    throw badInput(`the image cannot be decoded: ${(error as Error).message}`);
  }
}

export async function resizeRgb(image: RgbImage, width: number, height: number): Promise<RgbImage> {
  if (image.width === width && image.height === height) return image;
  const data = await (await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } }))
    .resize(width, height, { fit: 'fill', kernel: 'linear' })
    .raw()
    .toBuffer();
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width, height };
}

/** The pixels inside [x0, x1) × [y0, y1) (clipped to the image). */
export function crop(image: RgbImage, x0: number, y0: number, x1: number, y1: number): RgbImage {
  const left = Math.max(0, Math.floor(x0));
  const top = Math.max(0, Math.floor(y0));
  const width = Math.max(1, Math.min(image.width, Math.ceil(x1)) - left);
  const height = Math.max(1, Math.min(image.height, Math.ceil(y1)) - top);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * image.width + left) * 3;
    data.set(image.data.subarray(from, from + width * 3), y * width * 3);
  }
  return { data, width, height };
}

/** Rotated by 90° counter-clockwise (a vertical crop becomes a horizontal line, as numpy's rot90). */
export function rotate90(image: RgbImage): RgbImage {
  const { width: w, height: h } = image;
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const to = ((w - 1 - x) * h + y) * 3;
      const from = (y * w + x) * 3;
      data[to] = image.data[from]!;
      data[to + 1] = image.data[from + 1]!;
      data[to + 2] = image.data[from + 2]!;
    }
  }
  return { data, width: h, height: w };
}

export function rotate180(image: RgbImage): RgbImage {
  const n = image.width * image.height;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const to = (n - 1 - i) * 3;
    data[to] = image.data[i * 3]!;
    data[to + 1] = image.data[i * 3 + 1]!;
    data[to + 2] = image.data[i * 3 + 2]!;
  }
  return { ...image, data };
}

/**
 * Writes `image` into `out` (CHW, BGR planes, `padWidth` columns; columns past the image stay 0) as
 * ((x / 255) − mean[c]) / std[c], with mean and std given in BGR order.
 */
export function toChw(image: RgbImage, out: Float32Array, offset: number, padWidth: number, mean: readonly number[], std: readonly number[]): void {
  const { width, height, data } = image;
  const plane = padWidth * height;
  for (let c = 0; c < 3; c++) {
    const source = 2 - c; // BGR plane c reads RGB channel 2 - c
    const m = mean[c]!;
    const s = std[c]!;
    for (let y = 0; y < height; y++) {
      const row = offset + c * plane + y * padWidth;
      for (let x = 0; x < width; x++) out[row + x] = (data[(y * width + x) * 3 + source]! / 255 - m) / s;
    }
  }
}
