/** Reads `<model>/config.yaml` (or .yml / .json); no file at all is a valid, empty configuration. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { VireoError } from '../core/errors.js';
import { parseModelConfig, type ParsedModelConfig } from './model-config.js';

const CONFIG_FILES = ['config.yaml', 'config.yml', 'config.json'] as const;

export async function readModelConfig(modelDir: string): Promise<{ config: ParsedModelConfig; file: string | undefined }> {
  for (const file of CONFIG_FILES) {
    const path = join(modelDir, file);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new VireoError('VIREO_ERR_CONFIG_INVALID', `cannot read ${file}: ${(error as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    } catch (error) {
      throw new VireoError('VIREO_ERR_CONFIG_INVALID', `${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
    }
    return { config: parseModelConfig(raw, file), file };
  }
  return { config: parseModelConfig({}, '(none)'), file: undefined };
}
