/**
 * The input file of a batch: JSONL, one `{"custom_id", "method": "POST", "url", "body"}` per line,
 * as OpenAI's Batch API takes it. `validateInput` checks the whole file before any request runs
 * (as OpenAI does at `validating`) and `readLines` streams it again for the runner, from a line on.
 * Empty lines are skipped but keep their number, so line numbers in errors are the file's own.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
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

export interface InputLine {
  /** 1-based line number in the file. */
  line: number;
  customId: string;
  body: Record<string, unknown>;
}

export interface InputError {
  code: string;
  message: string;
  line: number | null;
  param: string | null;
}

/** custom_id bounds: OpenAI documents no limit, but every id is kept in memory while validating. */
const MAX_CUSTOM_ID = 512;
/** A failed validation reports this many errors at most (the first ones, in line order). */
const MAX_REPORTED_ERRORS = 100;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** One line checked on its own (everything but uniqueness); returns the error, or the parsed line. */
function checkLine(text: string, line: number, url: string): InputLine | InputError {
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
  return { line, customId, body };
}

export interface ValidatedInput {
  total: number;
  errors: InputError[];
}

/**
 * Reads the whole file once: every line valid, custom_ids unique, at most `maxLines` requests.
 * Memory is bounded by the ids kept for the uniqueness check (maxLines × MAX_CUSTOM_ID).
 */
export async function validateInput(path: string, url: string, maxLines: number): Promise<ValidatedInput> {
  const seen = new Map<string, number>();
  const errors: InputError[] = [];
  let total = 0;
  for await (const { text, line } of fileLines(path)) {
    total++;
    if (total > maxLines) {
      errors.push({ code: 'too_many_requests', message: `the file has more than ${maxLines} requests (--batch-max-lines)`, line, param: null });
      break;
    }
    const checked = checkLine(text, line, url);
    if ('code' in checked) {
      if (errors.length < MAX_REPORTED_ERRORS) errors.push(checked);
      continue;
    }
    const first = seen.get(checked.customId);
    if (first !== undefined) {
      if (errors.length < MAX_REPORTED_ERRORS) {
        errors.push({ code: 'duplicate_custom_id', message: `line ${line}: custom_id "${checked.customId.slice(0, 64)}" already used on line ${first}`, line, param: 'custom_id' });
      }
      continue;
    }
    seen.set(checked.customId, line);
  }
  if (total === 0) errors.push({ code: 'empty_file', message: 'the input file has no requests', line: null, param: null });
  return { total, errors };
}

/** The requests of a validated file from the `skip`-th on (0-based, counting requests, not lines). */
export async function* readLines(path: string, url: string, skip: number): AsyncGenerator<InputLine> {
  let index = 0;
  for await (const { text, line } of fileLines(path)) {
    if (index++ < skip) continue;
    const checked = checkLine(text, line, url);
    // The file was validated and is immutable while a batch reads it; a change is corruption.
    if ('code' in checked) throw new VireoError('VIREO_ERR_INTERNAL', `the input file changed after validation (${checked.message})`);
    yield checked;
  }
}

async function* fileLines(path: string): AsyncGenerator<{ text: string; line: number }> {
  const reader = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let line = 0;
  for await (const text of reader) {
    line++;
    if (text.trim() !== '') yield { text, line };
  }
}
