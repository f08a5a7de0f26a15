/**
 * OpenAI's Files and Batches APIs over Vireo's models (`/v1/files`, `/v1/batches`), so the `openai`
 * clients submit batch jobs unchanged with `baseURL` pointed at Vireo. Every route is a control
 * route: the control rule of AccessPolicy (`authorize`), checked in the handler rather than by the
 * access guard because the upload is multipart, not JSON; other bodies are read only as JSON.
 * docs/batch-api.md describes the behaviour and where it differs from OpenAI's.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { clip } from '../../core/bounded-text.js';
import { VireoError } from '../../core/errors.js';
import { clientRefusal, countRejection, type FrameworkErrorLimits } from '../http-common/framework-errors.js';
import { HTTP_STATUS } from '../http-common/http-errors.js';
import { frameworkLimits, type HttpOptions, type HttpRoutes } from '../http-common/http-server.js';
import { checkFileId, nowSeconds, type BatchFiles, type FileObject, type FilePurpose } from './batch-files.js';
import { parseEndpoint } from './batch-input.js';
import type { BatchRunner } from './batch-runner.js';
import { checkBatchId, newBatchId, TERMINAL, type BatchObject } from './batch-objects.js';

export interface BatchApi {
  files: BatchFiles;
  runner: BatchRunner;
  maxFileBytes: number;
  maxJobs: number;
  /** Throws PERMISSION_DENIED unless the caller may use control routes. */
  authorize(request: FastifyRequest): void;
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const malformed = (message: string): never => {
  throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', message);
};

/** OpenAI's cursor pagination over a newest-first list. */
function page<T extends { id: string }>(items: T[], query: Record<string, string | undefined>): { object: 'list'; data: T[]; first_id: string | null; last_id: string | null; has_more: boolean } {
  const limit = query.limit === undefined ? 20 : Number(query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) malformed('"limit" must be an integer from 1 to 10000');
  let start = 0;
  if (query.after !== undefined) {
    const at = items.findIndex((item) => item.id === query.after);
    // An empty page would read as the end of the list: a cursor that names nothing (deleted since) is refused.
    if (at < 0) malformed(`"after": no item with id "${query.after.slice(0, 64)}" in this list`);
    start = at + 1;
  }
  const data = items.slice(start, start + limit);
  return { object: 'list', data, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null, has_more: start + limit < items.length };
}

function completionWindowHours(value: unknown): number {
  const match = typeof value === 'string' ? /^(\d{1,3})h$/.exec(value) : null;
  const hours = match ? Number(match[1]) : NaN;
  if (!(hours >= 1 && hours <= 168)) malformed('"completion_window" must be "24h" (or another whole number of hours up to "168h")');
  return hours;
}

function checkMetadata(value: unknown): Record<string, string> | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) return malformed('"metadata" must be an object of strings');
  const entries = Object.entries(value);
  if (entries.length > 16) malformed('"metadata" has more than 16 keys');
  for (const [key, v] of entries) {
    if (key.length > 64) malformed('"metadata" keys are at most 64 characters');
    if (typeof v !== 'string' || v.length > 512) malformed(`"metadata.${key.slice(0, 64)}" must be a string of at most 512 characters`);
  }
  return value as Record<string, string>;
}

/** What the routes read from the URL: an id in the path, and query strings. */
type RouteTypes = { Params: { id: string }; Querystring: Record<string, string | undefined> };

/** Control routes read JSON only when it is declared JSON: a form post from a web page is refused. */
function jsonObject(request: FastifyRequest): Record<string, unknown> {
  const type = (request.headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/json')) throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', 'the body must be JSON (Content-Type: application/json)');
  if (!isObject(request.body)) return malformed('the body must be a JSON object');
  return request.body;
}

/**
 * Errors in OpenAI's form, `{"error": {"message", "type", "param", "code"}}`, which its clients read
 * (`error.code`, `error.type`) — not the REST routes' `{"error": "…"}`. `code` is Vireo's stable error
 * code without its prefix (docs/errors.md), or the reason fastify refused the body for.
 */
function sendOpenAiError(reply: FastifyReply, error: unknown, limits: FrameworkErrorLimits): FastifyReply {
  // fastify's own refusals of the body (bad JSON, too large, wrong media type, a bad gzip stream) first.
  const refused = error instanceof VireoError ? undefined : clientRefusal(error as FastifyError, limits);
  let { status, message, reason: code } = refused ?? { status: 0, message: '', reason: '' };
  if (!refused) {
    const e = VireoError.from(error);
    // OpenAI answers "too many jobs" with 429, which clients retry; other limits are 413.
    status = e.code === 'VIREO_ERR_BATCH_LIMIT' && e.message.includes('--batch-max-jobs') ? 429 : HTTP_STATUS[e.status];
    message = e.status === 'INTERNAL' && !(error instanceof VireoError) ? `internal error: ${clip(e.message, 1000)}` : e.message;
    code = e.code.slice('VIREO_ERR_'.length).toLowerCase();
    if (status >= 500 && e.status !== 'UNAVAILABLE') reply.log.error({ code: e.code, err: error }, 'request failed');
  }
  if (status < 500) countRejection(reply, code);
  return reply.code(status).send({ error: { message, type: status >= 500 ? 'server_error' : 'invalid_request_error', param: null, code } });
}

export function batchRoutes(api: BatchApi): HttpRoutes {
  return (app: FastifyInstance, options: HttpOptions) => {
    const limits = frameworkLimits(options);
    // The guard hook is skipped (`authorize` runs in each handler): see the file comment. Errors thrown
    // before the handler (the body's parsing) take OpenAI's form too.
    const PUBLIC = {
      config: { access: 'public' as const },
      errorHandler: (error: FastifyError, _request: unknown, reply: FastifyReply) => sendOpenAiError(reply, error, limits),
    };
    const route = (handler: (request: FastifyRequest<RouteTypes>, reply: FastifyReply) => Promise<unknown>) =>
      async (request: FastifyRequest<RouteTypes>, reply: FastifyReply) => {
        try {
          api.authorize(request);
          return await handler(request, reply);
        } catch (error) {
          return sendOpenAiError(reply, VireoError.from(error), limits);
        }
      };

    app.post<RouteTypes>('/v1/files', PUBLIC, route(async (request, reply) => {
      if (!request.isMultipart()) malformed('upload the file as multipart/form-data with fields "file" and "purpose"');
      let purpose: string | undefined;
      let file: FileObject | undefined;
      try {
        for await (const part of request.parts({ limits: { fileSize: api.maxFileBytes, files: 1, fields: 8, parts: 9 } })) {
          if (part.type === 'file') {
            if (part.fieldname !== 'file' || file) malformed('the form must have one file, in the field "file"');
            file = await api.files.upload(part.file, part.filename, 'batch');
          } else if (part.fieldname === 'purpose') {
            purpose = String(part.value);
          }
        }
      } catch (error) {
        if (file) await api.files.delete(file.id);
        if (error instanceof VireoError) throw error;
        const code = (error as { code?: string }).code;
        if (code === 'FST_FILES_LIMIT') malformed('the form must have one file, in the field "file"');
        if (code === 'FST_FIELDS_LIMIT' || code === 'FST_PARTS_LIMIT') malformed('the form has more fields than "file", "purpose" and a few others');
        throw new VireoError('VIREO_ERR_REQUEST_MALFORMED', `invalid multipart/form-data body: ${(error as Error).message}`);
      }
      if (!file) return malformed('the form has no field "file"');
      if (purpose !== 'batch') {
        await api.files.delete(file.id);
        return malformed('"purpose" must be "batch" (the only purpose this server accepts)');
      }
      return reply.send(file);
    }));

    app.get<RouteTypes>('/v1/files', PUBLIC, route(async (request) => {
      const { order = 'desc' } = request.query;
      if (order !== 'asc' && order !== 'desc') malformed('"order" must be "asc" or "desc"');
      const files = await api.files.list(request.query.purpose as FilePurpose | undefined);
      return page(order === 'asc' ? files.reverse() : files, request.query);
    }));
    app.get<RouteTypes>('/v1/files/:id', PUBLIC, route(async (request) => api.files.get(request.params.id)));
    app.get<RouteTypes>('/v1/files/:id/content', PUBLIC, route(async (request, reply) => {
      const file = await api.files.get(request.params.id);
      const { createReadStream } = await import('node:fs');
      return reply.header('content-type', 'application/jsonl').header('content-length', file.bytes).send(createReadStream(api.files.dataPath(file.id)));
    }));
    app.delete<RouteTypes>('/v1/files/:id', PUBLIC, route(async (request) => {
      const id = checkFileId(request.params.id);
      if (api.runner.table.reads(id)) throw new VireoError('VIREO_ERR_BATCH_STATE', `file ${id} is the input of a batch that has not finished`);
      await api.files.delete(id);
      return { id, object: 'file', deleted: true };
    }));

    app.post<RouteTypes>('/v1/batches', PUBLIC, route(async (request) => {
      const body = jsonObject(request);
      const inputFileId = typeof body.input_file_id === 'string' ? body.input_file_id : malformed('"input_file_id" must be a string');
      const file = await api.files.get(inputFileId);
      if (file.purpose !== 'batch') malformed(`file ${file.id} was not uploaded with purpose "batch"`);
      const endpoint = parseEndpoint(body.endpoint);
      // The model may be loading, or not loaded yet on a server that loads models on demand.
      await api.runner.checkModel(endpoint.model);
      const hours = completionWindowHours(body.completion_window);
      const metadata = checkMetadata(body.metadata);
      const now = nowSeconds();
      const batch: BatchObject = {
        id: newBatchId(), object: 'batch', endpoint: body.endpoint as string, errors: null, input_file_id: file.id,
        completion_window: body.completion_window as string, status: 'validating', output_file_id: null, error_file_id: null,
        created_at: now, in_progress_at: null, expires_at: now + hours * 3600, finalizing_at: null, completed_at: null,
        failed_at: null, expired_at: null, cancelling_at: null, cancelled_at: null,
        request_counts: { total: 0, completed: 0, failed: 0 }, metadata,
      };
      await api.runner.submit(batch, api.maxJobs);
      return batch;
    }));

    app.get<RouteTypes>('/v1/batches', PUBLIC, route(async (request) => page(api.runner.table.list(), request.query)));
    app.get<RouteTypes>('/v1/batches/:id', PUBLIC, route(async (request) => found(api.runner, request.params.id)));
    app.post<RouteTypes>('/v1/batches/:id/cancel', PUBLIC, route(async (request) => {
      const batch = found(api.runner, request.params.id);
      if (TERMINAL.has(batch.status) || batch.status === 'finalizing') {
        throw new VireoError('VIREO_ERR_BATCH_STATE', `batch ${batch.id} is ${batch.status} and can no longer be cancelled`);
      }
      return api.runner.cancel(batch);
    }));
  };
}

function found(runner: BatchRunner, id: string): BatchObject {
  const batch = runner.table.get(checkBatchId(id));
  if (!batch) throw new VireoError('VIREO_ERR_BATCH_NOT_FOUND', `no batch with id "${id}"`);
  return batch;
}
