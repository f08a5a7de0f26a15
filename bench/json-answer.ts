/**
 * The REST JSON answer of a large numeric output, old path against new, interleaved in one process:
 *   tsx bench/json-answer.ts [--elements 265000] [--datatype FP32] [--rounds 41]
 * - plain: encodeInferResponse's header with the data as a JS array, stringifyJsonExact (the reply
 *   serializer), then the string's UTF-8 bytes, as the socket write or gzip makes them;
 * - buffer: the header with DeferredNumbers and jsonAnswer (src/protocols/oip-http/json-answer.ts).
 * Per answer: CPU time (process.cpuUsage, main thread only here), V8 heap bytes allocated (used heap
 * after minus before, plus what every collection in between freed, from v8.GCProfiler), the part of it
 * allocated in old space and the large-object spaces (what only a full collection frees; promotions
 * by scavenges excluded) and Buffer bytes allocated (process.memoryUsage().arrayBuffers). The default output is ocr_rec's (1×40×6625 softmax floats). Prints medians
 * with the 10th–90th percentile range, and checks that both answers are the same bytes.
 */
import { GCProfiler, getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import type { DataType } from '../src/core/datatypes.js';
import { stringifyJsonExact } from '../src/core/exact-json-text.js';
import type { InferRequest, InferResponse } from '../src/core/inference.js';
import { toBFloat16Bits, toHalfBits } from '../src/core/half-float.js';
import { encodeInferResponse } from '../src/protocols/oip-http/oip-binary-codec.js';
import { jsonAnswer } from '../src/protocols/oip-http/json-answer.js';

const { values } = parseArgs({ options: {
  elements: { type: 'string', default: '265000' }, datatype: { type: 'string', default: 'FP32' }, rounds: { type: 'string', default: '41' },
} });
const count = Number(values.elements);
const datatype = values.datatype as DataType;
const rounds = Number(values.rounds);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Softmax-like values: most tiny, a few near 1, as a recognition model's class scores are. */
function scores(n: number): number[] {
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = Math.random() < 0.01 ? Math.random() : Math.exp(-5 - Math.random() * 15);
  return out;
}

function tensorData(dt: DataType, n: number) {
  const v = scores(n);
  switch (dt) {
    case 'FP32': return Float32Array.from(v);
    case 'FP64': return Float64Array.from(v);
    case 'FP16': return Uint16Array.from(v, toHalfBits);
    case 'BF16': return Uint16Array.from(v, toBFloat16Bits);
    case 'INT32': return Int32Array.from(v, (x) => Math.round(x * 2 ** 31) - 2 ** 30);
    case 'INT64': return BigInt64Array.from(v, (x) => BigInt(Math.round(x * 2 ** 53)) * 1000n);
    case 'BOOL': return Uint8Array.from(v, (x) => (x > 1e-6 ? 1 : 0));
    default: throw new Error(`--datatype ${dt}: not in this bench`);
  }
}

const shape = count % 6625 === 0 ? [1, count / 6625, 6625] : [count];
const response: InferResponse = { model: 'ocr_rec', version: '1', outputs: [{ name: 'softmax_2.tmp_0', datatype, shape, data: tensorData(datatype, count) }] };
const request: InferRequest = { model: 'ocr_rec', inputs: [] };

const plain = (): Buffer => Buffer.from(stringifyJsonExact(encodeInferResponse(response, request).header));
// As the infer route does: below DEFERRED_JSON_ELEMENTS nothing is deferred and the header goes the plain way.
const buffer = (): Buffer => {
  const { header } = encodeInferResponse(response, request, true);
  return jsonAnswer(header) ?? Buffer.from(stringifyJsonExact(header));
};

if (!plain().equals(buffer())) throw new Error('the two answers differ');

interface Sample { cpuMs: number; heapBytes: number; externalBytes: number; oldBytes: number }

const OLD_SPACES = new Set(['old_space', 'large_object_space', 'new_large_object_space']);

/** Used bytes of old space and both large-object spaces: what a scavenge alone does not give back. */
function oldSpaces(): number {
  let used = 0;
  for (const space of getHeapSpaceStatistics()) if (OLD_SPACES.has(space.space_name)) used += space.space_used_size;
  return used;
}

type Spaces = { spaceName: string; spaceUsedSize: number }[];
type Collection = { beforeGC: { heapStatistics: { usedHeapSize: number }; heapSpaceStatistics: Spaces }; afterGC: { heapStatistics: { usedHeapSize: number }; heapSpaceStatistics: Spaces } };
const oldOf = (spaces: Spaces) => spaces.reduce((sum, s) => sum + (OLD_SPACES.has(s.spaceName) ? s.spaceUsedSize : 0), 0);

/** What the code allocated there: the growth between collections (a collection's promotions excluded). */
function oldAllocated(before: number, collections: Collection[], after: number): number {
  let allocated = 0;
  let from = before;
  for (const c of collections) {
    allocated += oldOf(c.beforeGC.heapSpaceStatistics) - from;
    from = oldOf(c.afterGC.heapSpaceStatistics);
  }
  return allocated + after - from;
}

function measure(encode: () => Buffer): Sample {
  gc();
  const profiler = new GCProfiler();
  const before = getHeapStatistics();
  const buffersBefore = process.memoryUsage().arrayBuffers;
  const oldBefore = oldSpaces();
  profiler.start();
  const cpu = process.cpuUsage();
  const answer = encode();
  const used = process.cpuUsage(cpu);
  const after = getHeapStatistics();
  const oldAfter = oldSpaces();
  const buffers = process.memoryUsage().arrayBuffers - buffersBefore;
  const collections = (profiler.stop()?.statistics ?? []) as unknown as Collection[];
  let freed = 0;
  for (const c of collections) freed += c.beforeGC.heapStatistics.usedHeapSize - c.afterGC.heapStatistics.usedHeapSize;
  if (answer.length === 0) throw new Error('empty answer');
  return {
    cpuMs: (used.user + used.system) / 1000,
    heapBytes: after.used_heap_size - before.used_heap_size + freed,
    externalBytes: buffers,
    oldBytes: oldAllocated(oldBefore, collections, oldAfter),
  };
}

const samples: Record<'plain' | 'buffer', Sample[]> = { plain: [], buffer: [] };
for (let i = 0; i < 3; i++) { plain(); buffer(); }
for (let r = 0; r < rounds; r++) {
  // Alternating order: neither path always runs right after the other's garbage.
  const order: ('plain' | 'buffer')[] = r % 2 === 0 ? ['plain', 'buffer'] : ['buffer', 'plain'];
  for (const name of order) samples[name].push(measure(name === 'plain' ? plain : buffer));
}

const pick = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const cell = (xs: number[], scale: number, digits: number) => `${(pick(xs, 0.5) / scale).toFixed(digits)} (${(pick(xs, 0.1) / scale).toFixed(digits)}–${(pick(xs, 0.9) / scale).toFixed(digits)})`;
const size = buffer().length;
console.log(`### JSON answer of ${count} ${datatype} elements (${(size / 2 ** 20).toFixed(2)} MiB), ${rounds} interleaved rounds, median (p10–p90)\n`);
console.log('| path | CPU ms | V8 heap allocated MiB | of which large objects and old space MiB | Buffers allocated MiB |');
console.log('|---|---|---|---|---|');
for (const name of ['plain', 'buffer'] as const) {
  const s = samples[name];
  console.log(`| ${name} | ${cell(s.map((x) => x.cpuMs), 1, 2)} | ${cell(s.map((x) => x.heapBytes), 2 ** 20, 2)} | ${cell(s.map((x) => x.oldBytes), 2 ** 20, 2)} | ${cell(s.map((x) => x.externalBytes), 2 ** 20, 2)} |`);
}
