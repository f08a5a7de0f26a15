/**
 * Reads a model directory's configuration: `config.yaml` (or .yml / .json, Vireo's spelling) or
 * Triton's `config.pbtxt` (protobuf text format, parsed against model_config.proto). A directory with
 * both kinds is an error naming both; no file at all is a valid, empty configuration. Fields Triton
 * has and Vireo does not act on are dropped and returned as `unimplemented` for the caller to warn about.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { VireoError } from '../core/errors.js';
import type { Logger } from '../logging/logger.js';
import { parseModelConfig, type ParsedModelConfig } from './model-config.js';
import { modelConfigType } from './model-config-proto.js';
import { parseTextFormat, TextFormatError } from './text-format.js';
import { dropUnimplemented } from './triton-config.js';

const CONFIG_FILES = ['config.yaml', 'config.yml', 'config.json', 'config.pbtxt'] as const;
type ConfigFile = (typeof CONFIG_FILES)[number];

export interface ModelConfigFile {
  config: ParsedModelConfig;
  file: string | undefined;
  /** Triton fields in the file that Vireo does not act on (dropped), by path: `optimization.priority`. */
  unimplemented: string[];
}

async function readIfPresent(path: string, file: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `cannot read ${file}: ${(error as Error).message}`);
  }
}

function parseText(file: ConfigFile, text: string): unknown {
  if (file === 'config.pbtxt') {
    try {
      return parseTextFormat(text, modelConfigType());
    } catch (error) {
      if (error instanceof TextFormatError) throw new VireoError('VIREO_ERR_CONFIG_INVALID', `config.pbtxt:${error.message}`);
      throw error;
    }
  }
  try {
    return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `${file} is not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(error as Error).message}`);
  }
}

/** A config object from any source, with Triton-only fields dropped, parsed by the zod schema. */
export function parseWithTritonFields(raw: unknown, source: string): { config: ParsedModelConfig; unimplemented: string[] } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { config: parseModelConfig(raw, source), unimplemented: [] };
  const { config, dropped } = dropUnimplemented(raw as Record<string, unknown>);
  return { config: parseModelConfig(config, source), unimplemented: dropped };
}

export async function readModelConfig(modelDir: string): Promise<ModelConfigFile> {
  const found: { file: ConfigFile; text: string }[] = [];
  for (const file of CONFIG_FILES) {
    const text = await readIfPresent(join(modelDir, file), file);
    if (text !== undefined) found.push({ file, text });
  }
  const pbtxt = found.find((f) => f.file === 'config.pbtxt');
  const own = found.find((f) => f.file !== 'config.pbtxt');
  if (pbtxt && own) {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `the model directory has both ${own.file} and config.pbtxt; keep one of them`);
  }
  const chosen = pbtxt ?? own;
  if (!chosen) return { config: parseModelConfig({}, '(none)'), file: undefined, unimplemented: [] };
  const { config, unimplemented } = parseWithTritonFields(parseText(chosen.file, chosen.text), chosen.file);
  return { config, file: chosen.file, unimplemented };
}

/** One warning per Triton field Vireo does not act on (it was accepted and dropped, never silently). */
export function warnUnimplemented(log: Logger, source: string | undefined, fields: readonly string[]): void {
  for (const field of fields) {
    log.warn({ field, source }, `model configuration field "${field}" is not implemented by Vireo and is ignored`);
  }
}
