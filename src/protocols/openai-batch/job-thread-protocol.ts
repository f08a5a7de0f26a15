/**
 * Messages between a batch job's reading thread (job-thread.ts) and its host on the main thread
 * (job-thread-host.ts). Every request carries an id and is answered once, in any order.
 */
import type { SerializedError } from '../../core/errors.js';
import { markerFromWire, markerToWire } from '../../core/sequence-id-wire.js';
import type { PartRange } from '../../batch/part-store.js';
import type { RequestSpan, RowResult } from '../../batch/run-rows.js';
import type { ModelConfig } from '../../repository/model-config.js';
import type { ValidatedInput } from './batch-input.js';

/** The endpoint's model as the main thread saw it when the job started. */
export interface JobModelInfo {
  model: string;
  version?: string;
  /** The loaded version's config; absent when the model is not loaded (then `unavailable` says why). */
  config?: ModelConfig;
  unavailable?: SerializedError;
  batchSize: number;
}

export type JobThreadRequest =
  | { type: 'validate'; path: string; url: string; maxLines: number }
  | { type: 'open'; source: { path: string; fileIndex: number; blockBytes: number }; model: JobModelInfo; committed: string[]; partRows: number }
  | { type: 'next-part' }
  | { type: 'requests'; part: string; start: number; end: number }
  | { type: 'encode'; part: string; batchId: string; results: RowResult[] };

/** A part as the main thread needs it: its ids and the rows known bad; the lines stay in the thread. */
export interface PartHeader {
  name: string;
  range: PartRange;
  ids: string[];
  failed: [number, SerializedError][];
}

export interface JobThreadAnswers {
  validate: ValidatedInput;
  open: null;
  'next-part': PartHeader | null;
  requests: RequestSpan[];
  encode: { output: Uint8Array; errors: Uint8Array; failed: number };
}

/**
 * A batch's requests as the thread sends them: a request whose numeric sequence id is held as its text
 * keeps its marker (core/sequence-id-wire.ts), so a uint64 id beyond 2^53 stays the number it was on the
 * line, as over REST — not a string id of the same digits.
 */
export const spansToWire = (spans: RequestSpan[]): RequestSpan[] => spans.map((span) => markerToWire(span, span.request.parameters));

export function spansFromWire(spans: RequestSpan[]): RequestSpan[] {
  for (const span of spans) markerFromWire(span, span.request.parameters);
  return spans;
}

export type JobThreadReply = { id: number; value: unknown } | { id: number; error: SerializedError };
