/**
 * The input file of a batch: JSONL, one `{"custom_id", "method": "POST", "url", "body"}` per line,
 * as OpenAI's Batch API takes it. `validateInput` checks the whole file before any request runs (as
 * OpenAI does at `validating`), reading it with the batch engine's line reader (line-blocks.ts), the
 * reader the runner then uses to run it (text-sources.ts `jsonlParts`). Empty lines are skipped but
 * keep their number, so line numbers in errors are the file's own.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { LineTooLong, readBlockLines } from '../../batch/line-blocks.js';
import type { TimeSlicer } from '../../batch/time-slicer.js';
import { VireoError } from '../../core/errors.js';

/** Where the batch sends its requests: a Vireo inference path. */
export interface BatchEndpoint {
  model: string;
  version?: string;
}

const ENDPOINT = /^\/v2\/models\/([^/?#]+)(?:\/versions\/([^/?#]+))?\/infer$/;

export function parseEndpoint(endpoint: unknown): BatchEndpoint {
  const match = typeof endpoint === 'string' ? ENDPOINT.exec(endpoint) : null;
  if (!match) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED',
      '"endpoint" must be a Vireo inference path: /v2/models/{model}/infer or /v2/models/{model}/versions/{version}/infer');
  }
  const decode = (part: string) => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', '"endpoint" is not a valid URL path');
    }
  };
  return { model: decode(match[1]!), version: match[2] === undefined ? undefined : decode(match[2]) };
}

export interface InputError {
  code: string;
  message: string;
  line: number | null;
  param: string | null;
}

/** custom_id bounds: OpenAI documents no limit; ids are echoed in every output line. */
const MAX_CUSTOM_ID = 512;
/** A failed validation reports this many errors at most (the first ones, in line order). */
const MAX_REPORTED_ERRORS = 100;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** One line checked on its own (everything but uniqueness); returns the error, or its custom_id. */
function checkLine(text: string, line: number, url: string): { customId: string } | InputError {
  const fail = (code: string, message: string, param: string | null = null): InputError => ({ code, message, line, param });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return fail('invalid_json_line', `line ${line} is not valid JSON`);
  }
  if (!isObject(value)) return fail('invalid_request', `line ${line} is not a JSON object`);
  const { custom_id: customId, method, url: lineUrl, body } = value;
  if (typeof customId !== 'string' || customId === '') return fail('missing_required_parameter', `line ${line}: "custom_id" must be a non-empty string`, 'custom_id');
  if (customId.length > MAX_CUSTOM_ID) return fail('invalid_request', `line ${line}: "custom_id" is longer than ${MAX_CUSTOM_ID} characters`, 'custom_id');
  if (method !== 'POST') return fail('invalid_request', `line ${line}: "method" must be "POST"`, 'method');
  if (lineUrl !== url) return fail('mismatched_endpoint', `line ${line}: "url" must be the batch's endpoint ${url}`, 'url');
  if (!isObject(body)) return fail('invalid_request', `line ${line}: "body" must be a JSON object (an inference request)`, 'body');
  return { customId };
}

/**
 * The custom_ids of a file, for the uniqueness check, each kept as a fixed-size digest (the first
 * 16 bytes of its SHA-256) with the line it was first seen on — never the id itself. Memory is then
 * bounded by the line count alone: under 100 bytes per line (a 16-character string and a Map entry;
 * 3.4 MB measured for the default 50,000 lines, --batch-max-lines), whatever the ids' lengths (up to
 * 512 characters each, which kept whole would take up to 51 MB). Two different ids share a digest with a
 * probability below n²/2^129 (10^-29 at 50,000 lines): in that case a file is refused as having a
 * duplicate it does not have, never the reverse.
 */
export class CustomIdDigests {
  readonly #firstLine = new Map<string, number>();

  /** Fixed-size key of an id: 16 bytes as a 16-character one-byte string (a copy, not a slice). */
  static digest(customId: string): string {
    return createHash('sha256').update(customId).digest().toString('latin1', 0, 16);
  }

  /** Records `customId` as seen on `line`; returns the line it was first seen on when it was already. */
  add(customId: string, line: number): number | undefined {
    const key = CustomIdDigests.digest(customId);
    const first = this.#firstLine.get(key);
    if (first === undefined) this.#firstLine.set(key, line);
    return first;
  }

  get size(): number {
    return this.#firstLine.size;
  }

  /** Bytes held for ids: always `size` × 16, the bound the class exists for. */
  get idBytes(): number {
    let bytes = 0;
    for (const key of this.#firstLine.keys()) bytes += key.length;
    return bytes;
  }
}

export interface ValidatedInput {
  total: number;
  errors: InputError[];
}

/**
 * Reads the whole file once: every line valid, custom_ids unique, at most `maxLines` requests.
 * Pauses for waiting I/O with a slicer (time-slicer.ts). Memory: one line at a time, plus a fixed-size digest per custom_id (CustomIdDigests).
 */
export async function validateInput(path: string, url: string, maxLines: number, slicer?: TimeSlicer): Promise<ValidatedInput> {
  const seen = new CustomIdDigests();
  const errors: InputError[] = [];
  let total = 0;
  for await (const read of fileLines(path)) {
    const pause = slicer?.pause();
    if (pause) await pause;
    const { line } = read;
    if (!('text' in read)) {
      errors.push({ code: 'invalid_json_line', message: read.invalid, line, param: null });
      break;
    }
    total++;
    if (total > maxLines) {
      errors.push({ code: 'too_many_requests', message: `the file has more than ${maxLines} requests (--batch-max-lines)`, line, param: null });
      break;
    }
    const checked = checkLine(read.text, line, url);
    if ('code' in checked) {
      if (errors.length < MAX_REPORTED_ERRORS) errors.push(checked);
      continue;
    }
    const first = seen.add(checked.customId, line);
    if (first !== undefined && errors.length < MAX_REPORTED_ERRORS) {
      errors.push({ code: 'duplicate_custom_id', message: `line ${line}: custom_id "${checked.customId.slice(0, 64)}" already used on line ${first}`, line, param: 'custom_id' });
    }
  }
  if (total === 0) errors.push({ code: 'empty_file', message: 'the input file has no requests', line: null, param: null });
  return { total, errors };
}

/**
 * The non-empty lines of a file with their 1-based numbers, read as the engine reads them (one block
 * covering the whole file). Bytes that are not UTF-8, or a line longer than the engine reads, end the
 * reading with `{invalid}` at their line.
 */
async function* fileLines(path: string): AsyncGenerator<{ line: number; text: string } | { line: number; invalid: string }> {
  const { size } = await stat(path);
  let line = 1;
  try {
    for await (const read of readBlockLines(path, 0, Math.max(1, size), 0)) {
      line = read.number + 2;
      if (read.text.trim() !== '') yield { line: read.number + 1, text: read.text };
    }
  } catch (error) {
    // TextDecoder's fatal mode rejects bytes that are not UTF-8; line-blocks.ts refuses a line it would not hold.
    if (error instanceof TypeError) yield { line, invalid: `line ${line} is not valid UTF-8` };
    else if (error instanceof LineTooLong) yield { line: error.line, invalid: `line ${error.line} is longer than ${error.maxLineBytes} bytes` };
    else throw error;
  }
}
