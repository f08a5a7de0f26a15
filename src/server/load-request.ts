/**
 * What a model load request (the repository extension's load) carries, read and checked: a
 * configuration given as JSON text or an object — Triton's protobuf JSON or Vireo's own spelling —
 * and model files, which come only with a configuration.
 */
import { VireoError } from '../core/errors.js';
import type { Logger } from '../logging/logger.js';
import { parseWithTritonFields, warnUnimplemented } from '../repository/config-file.js';
import type { ParsedModelConfig } from '../repository/model-config.js';
import type { UploadedFile } from '../repository/model-upload.js';
import { coerceProtoJson } from '../repository/triton-config.js';

export interface LoadModelOptions {
  /** A model configuration, as JSON text (Triton's `config` parameter) or an object. */
  config?: string | Record<string, unknown>;
  /** Model files, keyed `<version>/<file name>` (the `file:` parameters without the prefix). */
  files?: Record<string, Uint8Array>;
}

/** The configuration (when given) and files of a load request for model `name`; unimplemented fields are logged. */
export function readLoadRequest(name: string, options: LoadModelOptions, logger: Logger): { config: ParsedModelConfig | undefined; files: UploadedFile[] } {
  const files: UploadedFile[] = Object.entries(options.files ?? {}).map(([path, bytes]) => ({ path, bytes }));
  if (files.length > 0 && options.config === undefined) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'model files were given without a "config" parameter (the repository extension requires one with files)');
  }
  if (options.config === undefined) return { config: undefined, files };
  let raw: unknown = options.config;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch (error) {
      throw new VireoError('VIREO_ERR_CONFIG_INVALID', `the "config" parameter is not valid JSON: ${(error as Error).message}`);
    }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new VireoError('VIREO_ERR_CONFIG_INVALID', 'the "config" parameter must be a JSON object');
  // Triton's clients send protobuf JSON ({"max_batch_size":"16"}, enum names); Vireo's spelling passes too.
  const read = parseWithTritonFields(coerceProtoJson(raw as Record<string, unknown>), 'given in the load request');
  warnUnimplemented(logger.child({ model: name }), 'load request', read.unimplemented);
  if (read.config.name !== undefined && read.config.name !== name) {
    throw new VireoError('VIREO_ERR_CONFIG_INVALID', `the given configuration names model "${read.config.name}", not "${name}"`);
  }
  return { config: read.config, files };
}
