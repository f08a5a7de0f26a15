/**
 * What exact 64-bit JSON costs the ordinary request: the HTTP frontend's JSON work for one `simple`
 * request and answer (two INT32[16] tensors each way), as JSON.parse + JSON.stringify did it before
 * and as exact-json.ts does it now (the same calls plus a symbol-keyed property and a try), side by side in
 * alternating rounds, CPU time per request. A body with INT64 values beyond ±2^53 shows the price of
 * the exact path when it is taken. In-process: the machine's other load moves both columns alike.
 */
import { jsonToTensorData, tensorDataToJson } from '../../src/core/json-tensors.js';
import { decodeExactly, keepJsonText, parseJson, stringifyJsonExact } from '../../src/protocols/http-common/exact-json.js';
import type { BenchSection } from '../lib/types.js';

const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));
const simpleBody = JSON.stringify({ inputs: ['INPUT0', 'INPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: range(16, (i) => i * 1000 + 7) })) });
const simpleAnswer = { model_name: 'simple', model_version: '1', outputs: ['OUTPUT0', 'OUTPUT1'].map((name) => ({ name, datatype: 'INT32', shape: [1, 16], data: range(16, (i) => i * 2000 + 14) })) };
const bigLiterals = Array.from({ length: 16 }, (_, i) => `${9007199254740993n + BigInt(i) * 1000000007n}`);
const int64Body = `{"inputs":[{"name":"x","datatype":"INT64","shape":[16],"data":[${bigLiterals.join(',')}]}]}`;

type Variant = () => void;

/** The request/answer JSON work per request on the `simple` path. */
const variants: Record<string, Variant> = {
  'before: JSON.parse + JSON.stringify': () => {
    const body = JSON.parse(simpleBody) as { inputs: { data: unknown }[] };
    jsonToTensorData(body.inputs[0]!.data, 'INT32', 16, 'x');
    JSON.stringify(simpleAnswer);
  },
  'after: JSON.parse keeping the text + exact stringify': () => {
    const body = JSON.parse(simpleBody) as { inputs: { data: unknown }[] };
    keepJsonText(body, simpleBody);
    decodeExactly(body, (json) => jsonToTensorData((json as typeof body).inputs[0]!.data, 'INT32', 16, 'x'));
    stringifyJsonExact(simpleAnswer);
  },
  'INT64 beyond ±2^53, exact second reading taken (for scale)': () => {
    const body = parseJson(int64Body);
    const data = decodeExactly(body, (json) => jsonToTensorData((json as { inputs: { data: unknown }[] }).inputs[0]!.data, 'INT64', 16, 'x'));
    stringifyJsonExact({ outputs: [{ name: 'y', datatype: 'INT64', shape: [16], data: tensorDataToJson(data, 'INT64') }] });
  },
};

function cpuNsPerOp(run: Variant, ops: number): number {
  const start = process.cpuUsage();
  for (let i = 0; i < ops; i++) run();
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / ops;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export const section: BenchSection = {
  name: 'exact-json',
  description: 'CPU per simple JSON request: exact 64-bit JSON vs plain JSON.parse/stringify, alternating rounds',
  async run({ quick, log }) {
    const ops = quick ? 5_000 : 40_000;
    const rounds = quick ? 3 : 9;
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
    for (const run of Object.values(variants)) cpuNsPerOp(run, ops / 4); // warm-up (JIT)
    for (let round = 0; round < rounds; round++) {
      for (const [name, run] of Object.entries(variants)) samples[name]!.push(cpuNsPerOp(run, ops));
      log(`exact-json round ${round + 1}/${rounds}`);
    }
    const medians = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
    const before = medians['before: JSON.parse + JSON.stringify']!;
    const rows = Object.entries(medians).map(([name, ns]) => `| ${name} | ${(ns / 1000).toFixed(2)} | ${(ns / before).toFixed(2)} × |`);
    const markdown = [
      '## Exact 64-bit JSON: cost on the ordinary request',
      '',
      `Median of ${rounds} alternating rounds of ${ops} requests each, CPU time (user + system) per request.`,
      '',
      '| variant | µs CPU / request | vs before |',
      '|---|---|---|',
      ...rows,
    ].join('\n');
    return { data: { ops, rounds, samples, medians }, markdown };
  },
};
