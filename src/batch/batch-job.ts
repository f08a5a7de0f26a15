/**
 * One `vireo batch` run: inputs → sources → parts → the engine's part loop (part-runner.ts: runRows
 * in-process through the facade, encoded part files, PartStore commits), the loop the server's
 * `/v1/batches` runs too. Reading, inference and writing overlap (see part-runner.ts).
 * Committed parts (of this or an earlier run, of this or another shard) are skipped: a rerun after
 * `kill -9` ends with the same files as an uninterrupted run.
 */
import { join } from 'node:path';
import { VireoError, type ErrorCode } from '../core/errors.js';
import type { ModelMetadata } from '../core/inference.js';
import type { InferenceServer } from '../server/inference-server.js';
import type { ModelConfig } from '../repository/model-config.js';
import type { InputSource, PartInput } from './input-source.js';
import { planInputs, type InputFormat, type PlannedInput } from './input-plan.js';
import { imageSource } from './image-source.js';
import { bytesInputs, inflightBatches, jsonlModel, type OipRequestParser } from './batch-model.js';
import { PartStore, writeFileAtomic } from './part-store.js';
import { encodeErrors, encodePart, FlatScratch, rowIdColumn, type OutputFormat, type OutputSpec } from './result-encoders.js';
import { runParts } from './part-runner.js';
import { columnarSource } from './columnar-sources.js';
import { csvSource, type CsvColumns } from './csv-source.js';
import { jsonlSource } from './text-sources.js';
import { JobStats, type BatchObserver, type BatchSummary } from './job-stats.js';

export interface Shard {
  /** 0-based. */
  index: number;
  count: number;
}

export interface BatchJobOptions {
  server: Pick<InferenceServer, 'infer' | 'dataframeRequest' | 'modelConfig' | 'modelMetadata'>;
  model: string;
  version?: string;
  inputs: readonly string[];
  output: string;
  inputFormat?: InputFormat;
  /** Default: jsonl for JSONL and image inputs, else the input's own format (csv, parquet, arrow). */
  outputFormat?: OutputFormat;
  /** Rows per batch; default: the model's max_batch_size (1 without batching). */
  batchSize?: number;
  /** Rows per part (rounded up to whole batches); default 1024. */
  partRows?: number;
  /** Bytes per block of a JSONL or CSV file; default 64 MiB. */
  blockBytes?: number;
  shard?: Shard;
  /** Stop once more rows than this failed (-1: never). */
  maxErrors?: number;
  idColumn?: string;
  restart?: boolean;
  /** What identifies the model's content (fingerprints of the repository's files), for job.json. */
  modelIdentity: unknown;
  /** Says what changed between two model identities, for the refusal of a folder of another job. */
  describeModelChange?: (before: unknown, now: unknown) => string | undefined;
  /** Batches in flight; default: the model's instances + 1. */
  maxInflight?: number;
  /** Largest image, file or JSONL/CSV line a row may read, in bytes (default 64 MiB). */
  maxFileBytes?: number;
  /**
   * Largest block of a columnar input, read whole, in bytes: one Arrow message (record batch) or one
   * Parquet row group (its compressed and its decoded bytes, and its rows × columns at 4 bytes a cell),
   * checked from the sizes the file declares before it is read; default DEFAULT_MAX_MESSAGE_BYTES
   * (2 GiB: a block holds many rows, see read-bounds.ts and parquet-footer-bounds.ts).
   */
  maxMessageBytes?: number;
  observer?: BatchObserver;
  /** Aborted: no new part starts; the one running is committed, then the job rejects (rerun resumes). */
  signal?: AbortSignal;
  /** The REST frontend's OIP JSON request parser, for JSONL bodies with `inputs` (the engine imports no wire code). */
  oipRequest: OipRequestParser;
}

/**
 * Rows a part holds unless `--part-rows` says: 1,024, or 16 of the job's batches where that is more. A
 * part has fixed costs (its commit's three fsyncs and renames, the boundary between two parts' runs);
 * over the batch benchmark's MLP (batches of 256) parts of 4,096 rows kept onnxruntime's threads busy
 * 86–87 % of the time against 83–85 % with 1,024 (`tsx bench/batch-threads.ts --part-rows N`, interleaved),
 * while small batches (slow rows: OCR, large inputs) keep parts of 1,024, the unit a restart redoes.
 */
const DEFAULT_PART_ROWS = 1024;
const DEFAULT_PART_BATCHES = 16;
const DEFAULT_BLOCK_BYTES = 64 * 1024 * 1024;

const invalid = (message: string, code: ErrorCode = 'VIREO_ERR_BATCH_INPUT_INVALID'): never => {
  throw new VireoError(code, message);
};


/** Datatypes whose dataframe cells are read with `Number` (not 64-bit integers: they stay exact as text). */
const NUMBER_CELLS = new Set(['FP16', 'BF16', 'FP32', 'FP64', 'INT8', 'INT16', 'INT32', 'UINT8', 'UINT16', 'UINT32']);

/**
 * How the model takes a CSV's columns: which as numbers, and which column lists make a float input
 * of their own (read straight into its row-major layout: a list none of whose columns another input
 * also takes, since it is read in that input's datatype). Parquet takes the same lists.
 */
function csvColumns(config: ModelConfig): CsvColumns {
  const taken = config.input.flatMap((i) => i.columns ?? [i.name]);
  const takenOnce = (name: string) => taken.indexOf(name) === taken.lastIndexOf(name);
  return {
    numeric: new Set(config.input.filter((i) => NUMBER_CELLS.has(i.data_type)).flatMap((i) => i.columns ?? [i.name])),
    rowMajor: config.input
      .filter((i) => (i.data_type === 'FP32' || i.data_type === 'FP64') && i.columns !== undefined && i.columns.length > 1 && i.columns.every(takenOnce))
      .map((i) => ({ names: i.columns!, float32: i.data_type === 'FP32' })),
  };
}

function sourcesOf(planned: PlannedInput[], options: BatchJobOptions, config: ModelConfig, batchSize: number): InputSource[] {
  const batched = config.max_batch_size > 0;
  // Full batches of the job's own rows: sized by the batch size, not by a client's per-request byte bounds.
  const toRequest = (table: Parameters<BatchJobOptions['server']['dataframeRequest']>[2]) => options.server.dataframeRequest(options.model, options.version, table, false);
  const jsonl = jsonlModel(options.server, options.model, options.version, config, options.oipRequest);
  const blockBytes = options.blockBytes ?? DEFAULT_BLOCK_BYTES;
  return planned.map((input, fileIndex): InputSource => {
    if (input.kind === 'images') {
      const targets = bytesInputs(config);
      if (targets.length !== 1) invalid(`model "${options.model}" has ${targets.length} inputs that take files (${targets.join(', ') || 'none'}); a folder of images needs exactly one`);
      return imageSource(input.path, fileIndex, input.files, { input: targets[0]!, batched, model: options.model, version: options.version }, options.maxFileBytes ?? 64 * 1024 * 1024);
    }
    // A line is what one row reads: bounded as one image of a folder is (--max-file-bytes).
    const text = { path: input.path, fileIndex, blockBytes, maxLineBytes: options.maxFileBytes };
    if (input.format === 'jsonl') return jsonlSource(text, jsonl, batchSize);
    if (input.format === 'csv') return csvSource(text, toRequest, options.idColumn, csvColumns(config));
    // A record batch or row group is many rows: bounded on its own (--max-message-bytes), not as one row's read.
    return columnarSource(input.path, input.format, fileIndex, toRequest, options.idColumn, { maxMessageBytes: options.maxMessageBytes, rowMajor: csvColumns(config).rowMajor });
  });
}

/** Output columns: every output of the model; scalar when it has one element per row. */
function outputSpecs(metadata: ModelMetadata, batched: boolean, perRowItems: boolean): OutputSpec[] {
  return metadata.outputs.map((o) => {
    const dims = batched ? o.shape.slice(1) : o.shape;
    return { name: o.name, datatype: o.datatype, scalar: !perRowItems && dims.every((d) => d === 1) };
  });
}

/**
 * Without --part-rows, a rerun into a folder a job began keeps that job's part size (job.json, as the
 * job read it: `jobFile`), so a job begun before the default changed (1,024 rows, then 16 batches where
 * that is more) still resumes; undefined with --restart, or when the folder holds no job or one of
 * another batch size.
 */
function resumedPartRows(jobFile: string | undefined, batchSize: number): number | undefined {
  let begun: { partRows?: unknown; batchSize?: unknown } | undefined;
  try {
    begun = jobFile === undefined ? undefined : JSON.parse(jobFile) as typeof begun;
  } catch {
    return undefined; // PartStore.open refuses it, naming it unreadable
  }
  const rows = begun?.partRows;
  return typeof rows === 'number' && Number.isSafeInteger(rows) && rows > 0 && begun?.batchSize === batchSize && rows % batchSize === 0 ? rows : undefined;
}

/**
 * The most bytes a CSV part's numbers may take. A part's numeric cells are read into typed arrays sized
 * for a whole part before its lines are parsed (csv-source.ts: one Float64Array per numeric column, or
 * one array per FP32/FP64 input read row-major; at most 8 bytes a cell), and a few parts are in memory
 * at once (one read ahead, two running, one being written): 1 GiB a part keeps them within a few GiB,
 * and every array far below the largest typed array (2^32 elements in node 20). Unchecked, `--part-rows`
 * 2^24 (its maximum) of 512 columns stopped the job with a RangeError from inside parsing, and 256
 * columns asked for one array of 16 GiB.
 */
const MAX_CSV_PART_BYTES = 2 ** 30;

/** Refuses, before any input is read or job.json written, a part size whose CSV numbers would not fit. */
function checkCsvPartBytes(columns: CsvColumns, options: BatchJobOptions, partRows: number, batchSize: number): void {
  const numeric = [...columns.numeric ?? []].filter((c) => c !== options.idColumn).length;
  const bytes = partRows * numeric * 8;
  if (bytes <= MAX_CSV_PART_BYTES) return;
  const rows = Math.floor(MAX_CSV_PART_BYTES / (numeric * 8));
  const fits = Math.floor(rows / batchSize) * batchSize;
  // A part holds whole batches: when not even one fits, the batch size is what must shrink.
  const advice = fits > 0 ? `give --part-rows ${fits} or less` : `give --batch-size ${rows} or less`;
  invalid(`a CSV part of ${partRows} rows (--part-rows) reads the ${numeric} numeric columns of model "${options.model}" into ${bytes} bytes (8 a cell), more than the ${MAX_CSV_PART_BYTES} one part may hold; ${advice}`);
}

export async function runBatchJob(options: BatchJobOptions): Promise<BatchSummary> {
  const shard = options.shard ?? { index: 0, count: 1 };
  if (!Number.isInteger(shard.count) || shard.count < 1 || !Number.isInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    invalid(`shard ${shard.index}/${shard.count}: expected 0 ≤ index < count`);
  }
  const config = options.server.modelConfig(options.model, options.version);
  const metadata = options.server.modelMetadata(options.model, options.version);
  const batched = config.max_batch_size > 0;
  const batchSize = options.batchSize ?? Math.max(1, config.max_batch_size);
  if (batched && batchSize > config.max_batch_size) invalid(`--batch-size ${batchSize} is above model "${options.model}"'s max_batch_size ${config.max_batch_size}`);
  // Read once: for the part size a rerun keeps, and by PartStore.open to check the folder is this job's
  // (one that cannot be read is read again there, which reports it).
  const jobFile = options.restart ? undefined : await PartStore.readJobFile(options.output).catch(() => undefined);
  const partRows = Math.ceil((options.partRows ?? resumedPartRows(jobFile, batchSize) ?? Math.max(DEFAULT_PART_ROWS, DEFAULT_PART_BATCHES * batchSize)) / batchSize) * batchSize;
  const planned = await planInputs(options.inputs, options.inputFormat);
  if (planned.some((input) => input.kind === 'file' && input.format === 'csv')) checkCsvPartBytes(csvColumns(config), options, partRows, batchSize);
  const sources = sourcesOf(planned, options, config, batchSize);
  const inputFormats = new Set(sources.map((s) => s.format));
  const outputFormat = options.outputFormat ?? (inputFormats.size === 1 && !inputFormats.has('jsonl') && !inputFormats.has('images') ? [...inputFormats][0] as OutputFormat : 'jsonl');
  const specs = outputSpecs(metadata, batched, inputFormats.has('jsonl'));
  // Refused before any row runs when the columns cannot all have their own name.
  if (outputFormat !== 'jsonl') rowIdColumn(options.idColumn, specs);

  // Everything that decides which rows land in which part under which name, and what they hold.
  const identity = {
    model: options.model,
    version: options.version ?? null,
    modelIdentity: options.modelIdentity,
    inputs: await Promise.all(sources.map((s) => s.identity())),
    outputFormat,
    batchSize,
    partRows,
    blockBytes: options.blockBytes ?? DEFAULT_BLOCK_BYTES,
    idColumn: options.idColumn ?? null,
  };
  const owns = (fileIndex: number, block: number) => (fileIndex + block) % shard.count === shard.index;
  const ownsPart = (part: string) => {
    const match = /^f(\d+)-b(\d+)-/.exec(part);
    return match !== null && owns(Number(match[1]), Number(match[2]));
  };
  const summaryName = shard.count === 1 ? 'summary.json' : `summary-${shard.index}-of-${shard.count}.json`;
  const jobFiles = { is: (name: string) => /^summary(-\d+-of-\d+)?\.json$/.test(name), own: (name: string) => name === summaryName };
  const describe = options.describeModelChange ? { modelIdentity: options.describeModelChange } : undefined;
  const store = await PartStore.open(options.output, identity, { restart: options.restart, owns: ownsPart, jobFiles, describe, jobFile });
  const stats = new JobStats(options.observer);
  const maxErrors = options.maxErrors ?? -1;
  for (const manifest of store.committed()) if (ownsPart(manifest.part)) stats.resumed(manifest);
  // Failed rows of committed parts count: a rerun of a job stopped by --max-errors stops the same way.
  const tooManyErrors = (failed: number) => {
    if (maxErrors >= 0 && failed > maxErrors) {
      invalid(`${failed} rows failed, more than --max-errors ${maxErrors} (see the errors files in ${join(options.output, 'parts')})`, 'VIREO_ERR_BATCH_TOO_MANY_ERRORS');
    }
  };
  tooManyErrors(stats.totalErrors);
  const estimates = await Promise.all(sources.map((s) => s.estimateRows()));
  options.observer?.started?.(estimates.reduce((a, b) => a + b, 0) / shard.count);
  const maxInflight = options.maxInflight ?? inflightBatches(config);

  const partsOf = async function* (): AsyncGenerator<PartInput> {
    for (const source of sources) yield* source.parts({ owns, committed: (p) => store.isCommitted(p), partRows });
  };
  let failedSoFar = stats.totalErrors;
  const scratch = new FlatScratch();
  await runParts(partsOf(), {
    store,
    // Results stay in this thread (encoded here): rows as views of their request's outputs.
    rows: { server: options.server, batchSize, maxInflight, recorder: stats, rowViews: true },
    encode(part, results) {
      const partResults = { part: part.name, ids: part.rows.ids, carried: part.carried, results };
      return {
        results: { extension: outputFormat, bytes: encodePart(outputFormat, partResults, specs, scratch) },
        errors: encodeErrors(partResults),
        ranges: [part.range],
        rows: results.length,
        errors_count: results.filter((r) => !r.ok).length,
      };
    },
    proceed: () => !options.signal?.aborted,
    ran(_part, results) {
      // The count includes this part, so it is committed (a rerun with a larger limit resumes after it).
      failedSoFar += results.filter((r) => !r.ok).length;
      tooManyErrors(failedSoFar);
    },
    committed: (_part, manifest, _results, encodeSeconds, commitSeconds) => stats.committed(manifest.rows, manifest.errors, encodeSeconds, commitSeconds),
    read: (seconds) => stats.read(seconds),
  });
  if (options.signal?.aborted) throw new VireoError('VIREO_ERR_REQUEST_CANCELLED', `interrupted after ${stats.parts} parts; run the same command again to resume`);
  const summary = stats.summary({ shard, outputFormat, output: options.output });
  await writeFileAtomic(join(options.output, summaryName), new TextEncoder().encode(`${JSON.stringify(summary, null, 2)}\n`));
  return summary;
}
