/**
 * Entry point of a batch job's reading thread. A job's per-row work — reading and parsing the input
 * lines, the validation pre-pass, building each batch's request, encoding the answers — runs here
 * instead of on the main thread, at the lowest CPU priority (nice 19 and SCHED_IDLE,
 * core/thread-priority.ts). On the main thread that work, however finely sliced, was CPU at nice 0:
 * it took a core from the real-time model's onnxruntime threads, whose runs then took 2–3 × as
 * long (README, "Batch jobs beside real-time traffic"). The main thread now only hands each batch
 * to the facade and commits parts.
 *
 * Parts are read on demand (`next-part`), so at most the parts the runner holds (two running, one
 * read ahead) are in memory here; a part's lines stay until its answers are encoded.
 */
import { parentPort } from 'node:worker_threads';
import { jsonlModel } from '../../batch/batch-model.js';
import { jsonlRows, type JsonlModel, type ParsedLine } from '../../batch/jsonl-rows.js';
import type { InputRows } from '../../batch/run-rows.js';
import { jsonlParts, type JsonlPart } from '../../batch/text-sources.js';
import { ModelCodecs } from '../../codecs/model-codecs.js';
import { VireoError } from '../../core/errors.js';
import { lowerThisThread } from '../../core/thread-priority.js';
import { parseInferBody } from '../oip-http/oip-json-codec.js';
import { answerPart, refuseBinary } from './batch-answers.js';
import { validateInput } from './batch-input.js';
import { spansToWire, type JobModelInfo, type JobThreadReply, type JobThreadRequest, type PartHeader } from './job-thread-protocol.js';

if (!parentPort) throw new Error('job-thread must run in a worker thread');
const port = parentPort;
lowerThisThread(19, true);

let reader: AsyncGenerator<JsonlPart> | undefined;
let batchSize = 1;
let model: JsonlModel | undefined;
const parts = new Map<string, { lines: ParsedLine[]; rows: InputRows }>();

/** The REST route's reading of a line, with the model's dataframe mapping built here from its config. */
function readingModel(info: JobModelInfo): JsonlModel {
  const codecs = info.config ? ModelCodecs.dataframesOnly(info.config) : undefined;
  const dataframes = {
    dataframeRequest(name: string, version: string | undefined, table: Parameters<ModelCodecs['dataframeInputs']>[0]) {
      if (!codecs) throw VireoError.from(info.unavailable ?? { code: 'VIREO_ERR_MODEL_UNAVAILABLE', message: `model "${name}" is not loaded` });
      return { model: name, version, inputs: codecs.dataframeInputs(table, name) };
    },
  };
  return jsonlModel(dataframes, info.model, info.version, info.config, (body, m, v) => parseInferBody(body, m, v));
}

async function answer(request: JobThreadRequest): Promise<{ value: unknown; transfer?: ArrayBuffer[] }> {
  switch (request.type) {
    case 'validate':
      return { value: await validateInput(request.path, request.url, request.maxLines) };
    case 'open': {
      model = readingModel(request.model);
      batchSize = request.model.batchSize;
      const committed = new Set(request.committed);
      reader = jsonlParts(request.source, model, { owns: () => true, committed: (part) => committed.has(part), partRows: request.partRows });
      return { value: null };
    }
    case 'next-part': {
      if (!reader || !model) throw new VireoError('VIREO_ERR_INTERNAL', 'the job thread has no input open');
      const next = await reader.next();
      if (next.done) return { value: null };
      const lines = next.value.lines.map(refuseBinary);
      const rows = jsonlRows(lines, model, batchSize);
      parts.set(next.value.name, { lines, rows });
      const header: PartHeader = {
        name: next.value.name, range: next.value.range, ids: rows.ids,
        failed: [...(rows.failed ?? [])].map(([row, error]) => [row, error.toJSON()]),
      };
      return { value: header };
    }
    case 'requests':
      // Copied, not moved: a one-line request is the line's own tensors, asked for again if its batch is split.
      return { value: spansToWire(await partOf(request.part).rows.requests(request.start, request.end)) };
    case 'encode': {
      const { lines } = partOf(request.part);
      parts.delete(request.part);
      const answered = await answerPart(request.batchId, lines, request.results);
      return { value: answered, transfer: [answered.output.buffer as ArrayBuffer, answered.errors.buffer as ArrayBuffer] };
    }
  }
}

function partOf(name: string): { lines: ParsedLine[]; rows: InputRows } {
  const part = parts.get(name);
  if (!part) throw new VireoError('VIREO_ERR_INTERNAL', `part ${name} is not held by the job thread`);
  return part;
}

port.on('message', (message: { id: number; request: JobThreadRequest }) => {
  answer(message.request).then(
    ({ value, transfer }) => port.postMessage({ id: message.id, value } satisfies JobThreadReply, transfer ?? []),
    (error: unknown) => port.postMessage({ id: message.id, error: VireoError.from(error).toJSON() } satisfies JobThreadReply),
  );
});
