/**
 * File uploads to the infer URL (BentoML style): a `multipart/form-data` form, or a bare body
 * (`image/*`, `application/octet-stream` without the binary extension's header). Each file or text
 * field fills the BYTES input of its name; a model with exactly one BYTES input takes a single
 * file under any field name, and a bare body always goes there. The answer is plain JSON
 * (plain-response.ts), not an OIP response.
 */
import type { FastifyRequest } from 'fastify';
import { VireoError } from '../../core/errors.js';
import type { InferRequest } from '../../core/inference.js';
import type { Tensor } from '../../core/tensor.js';
import type { ModelConfig } from '../../repository/model-config.js';
import { requestLimits } from '../../core/request-limits.js';

/** Whether the body is an upload rather than an OIP JSON request (or one with binary tensors). */
export function isUpload(request: FastifyRequest): boolean {
  const type = (request.headers['content-type'] ?? '').toLowerCase();
  if (type.startsWith('multipart/form-data')) return true;
  if (type.startsWith('image/')) return true;
  if (!type.startsWith('application/octet-stream') || request.headers['inference-header-content-length'] !== undefined) return false;
  // A JSON request sent as octet-stream stays a JSON request; no image format starts with '{'.
  const body = request.body;
  return !(Buffer.isBuffer(body) && /^\s*\{/.test(body.subarray(0, 64).toString('latin1')));
}

/** Inputs that take bytes from a client: BYTES inputs, and inputs with an image or text codec. */
function bytesInputs(config: ModelConfig): ModelConfig['input'] {
  const inputs = config.input.filter((i) => i.data_type === 'BYTES' || i.image || i.text);
  if (inputs.length === 0) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `model "${config.name}" has no BYTES or image input to take an upload; send an OIP JSON request`);
  }
  return inputs;
}

/** One element, with the batch dimension when the model batches (every -1 dim becomes 1). */
function tensorOf(name: string, bytes: Uint8Array, config: ModelConfig): Tensor {
  const spec = config.input.find((i) => i.name === name)!;
  // An image input takes one encoded image; the codec makes the model's tensor from it.
  const dims = spec.image || spec.text ? [1] : spec.dims.map((d) => (d === -1 ? 1 : d));
  if (dims.some((d) => d !== 1)) {
    throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `input "${name}" has dims [${spec.dims.join(',')}]; an upload fills one element only`);
  }
  return { name, datatype: 'BYTES', shape: config.max_batch_size > 0 ? [1, ...dims] : dims, data: [bytes] };
}

function target(field: string, config: ModelConfig, isOnlyFile: boolean): string {
  const inputs = bytesInputs(config);
  if (inputs.some((i) => i.name === field)) return field;
  if (inputs.length === 1 && isOnlyFile) return inputs[0]!.name;
  throw new VireoError('VIREO_ERR_INPUT_UNKNOWN', `form field "${field}" is not a BYTES input of model "${config.name}" (it has ${inputs.map((i) => `"${i.name}"`).join(', ')})`);
}

/** Errors of the multipart parser (sizes, part counts) in Vireo's terms, naming the limit and its option. */
function multipartError(error: unknown, partLimit: number, sizeLimit: number): VireoError {
  if (error instanceof VireoError) return error;
  const e = error as { statusCode?: number; message?: string; code?: string };
  if (e.code === 'FST_PARTS_LIMIT' || e.code === 'FST_FILES_LIMIT' || e.code === 'FST_FIELDS_LIMIT') {
    return new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', `the form has more than the limit of ${partLimit} parts (--http-max-multipart-parts)`);
  }
  if (e.code === 'FST_REQ_FILE_TOO_LARGE') return new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', `a file in the form exceeds the limit of ${sizeLimit} bytes (--http-body-limit)`);
  if (e.statusCode === 413) return new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', `upload too large: ${e.message}`);
  return new VireoError('VIREO_ERR_REQUEST_MALFORMED', `invalid multipart/form-data body: ${e.message ?? String(error)}`);
}

export async function parseUpload(request: FastifyRequest, config: ModelConfig, model: string, version: string | undefined, fileSizeLimit: number): Promise<InferRequest> {
  const values = new Map<string, Uint8Array>();
  if (request.isMultipart()) {
    const received: { field: string; bytes: Uint8Array; file: boolean }[] = [];
    const parts = requestLimits().maxMultipartParts;
    // The parts together are the body: bounded by the body limit as a whole, not each on its own
    // (the multipart parser reads past fastify's body limit). A text field over its size would be
    // cut short by the parser; it is refused instead.
    const tooLarge = (what: string) => new VireoError('VIREO_ERR_REQUEST_TOO_LARGE', `${what} exceed the limit of ${fileSizeLimit} bytes (--http-body-limit)`);
    let total = 0;
    try {
      for await (const part of request.parts({ limits: { parts, files: parts, fields: parts, fileSize: fileSizeLimit, fieldSize: fileSizeLimit } })) {
        let bytes: Uint8Array;
        if (part.type === 'file') {
          bytes = await part.toBuffer();
        } else {
          if (part.valueTruncated || part.fieldnameTruncated) throw tooLarge(`form field "${part.fieldname}"`);
          bytes = Buffer.from(String(part.value), 'utf8');
        }
        total += bytes.byteLength;
        if (total > fileSizeLimit) throw tooLarge(`the form's parts (${total} bytes so far)`);
        received.push({ field: part.fieldname, bytes, file: part.type === 'file' });
      }
    } catch (error) {
      throw multipartError(error, parts, fileSizeLimit);
    }
    const files = received.filter((r) => r.file);
    for (const part of received) {
      const name = target(part.field, config, part.file && files.length === 1);
      if (values.has(name)) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `input "${name}" is given twice in the form`);
      values.set(name, part.bytes);
    }
  } else {
    const body = request.body;
    if (!Buffer.isBuffer(body) || body.byteLength === 0) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'the upload has an empty body');
    const inputs = bytesInputs(config);
    if (inputs.length !== 1) {
      throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `model "${model}" has ${inputs.length} BYTES inputs; send a multipart form naming each`);
    }
    values.set(inputs[0]!.name, new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  }
  if (values.size === 0) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'the form has no fields');
  return {
    model,
    version,
    inputs: [...values].map(([name, bytes]) => tensorOf(name, bytes, config)),
  };
}
