/**
 * A plain-JS forward pass of tools/modelgen cnnModel, written from the layer definitions (not
 * from onnxruntime), so end-to-end tests can check every served result independently.
 */
import { CNN_SHAPES, weights } from '../../tools/modelgen/models.js';

/** 2-D convolution of one image [C, H, W] with weights [M, C, k, k], bias [M], square pad and stride. */
function conv(x: Float64Array, c: number, h: number, w: number, wt: Float32Array, bias: Float32Array, m: number, k: number, pad: number, stride: number) {
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const ow = Math.floor((w + 2 * pad - k) / stride) + 1;
  const y = new Float64Array(m * oh * ow);
  for (let o = 0; o < m; o++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let s = bias[o]!;
        for (let ch = 0; ch < c; ch++) {
          for (let a = 0; a < k; a++) {
            for (let b = 0; b < k; b++) {
              const yy = i * stride + a - pad;
              const xx = j * stride + b - pad;
              if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
              s += x[(ch * h + yy) * w + xx]! * wt[((o * c + ch) * k + a) * k + b]!;
            }
          }
        }
        y[(o * oh + i) * ow + j] = Math.max(0, s);
      }
    }
  }
  return { y, oh, ow };
}

/** OUTPUT [5] for one INPUT image [1, 8, 8] (64 values, row-major). */
export function cnnReference(image: ArrayLike<number>, seed = 7): number[] {
  const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);
  const w1 = weights(seed, size(CNN_SHAPES.conv1), 0.5);
  const b1 = weights(seed + 1, 4, 0.5);
  const w2 = weights(seed + 2, size(CNN_SHAPES.conv2), 0.5);
  const b2 = weights(seed + 3, 2, 0.5);
  const wf = weights(seed + 4, size(CNN_SHAPES.fc), 0.5);
  const bf = weights(seed + 5, 5, 0.5);
  const l1 = conv(Float64Array.from(image), 1, 8, 8, w1, b1, 4, 3, 1, 1);
  const l2 = conv(l1.y, 4, l1.oh, l1.ow, w2, b2, 2, 3, 0, 2);
  const out: number[] = [];
  for (let o = 0; o < 5; o++) {
    let s = bf[o]!;
    for (let i = 0; i < 18; i++) s += l2.y[i]! * wf[i * 5 + o]!;
    out.push(s);
  }
  return out;
}
