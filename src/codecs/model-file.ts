/** Files a codec reads from the model directory (labels, tokenizers): never from outside it. */
import { readFile, realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { VireoError } from '../core/errors.js';

export async function readModelFile(modelDir: string, file: string, what: string): Promise<string> {
  const root = await realpath(modelDir);
  let path: string;
  try {
    path = await realpath(resolve(root, file));
  } catch {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `${what}: "${file}" does not exist in the model directory`);
  }
  if (!path.startsWith(root + sep)) throw new VireoError('VIREO_ERR_CONFIG_INVALID', `${what}: "${file}" is outside the model directory`);
  return readFile(path, 'utf8');
}
