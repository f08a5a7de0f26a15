/**
 * Fuzzing every way a request reaches the server — OIP REST JSON, the binary tensor extension, V1
 * REST, multipart uploads, dataframe bodies (CSV, JSON records), gRPC messages (through grpc-js)
 * and raw HTTP/2 frames of garbage protobuf — with malformed requests from a fixed seed,
 * interleaved with valid requests whose answers are checked against values computed here. The
 * server runs as its own process; after every protocol it must still be up, and throughout: no
 * 5xx, no gRPC INTERNAL/UNKNOWN, no hang (a per-request timeout), every refusal a protocol error
 * body, resident memory bounded.
 *
 * VIREO_FUZZ_CASES sets the cases per protocol (default 150, about a minute), VIREO_FUZZ_SEED the seed (default 13).
 */
import assert from 'node:assert/strict';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ClientHttp2Session } from 'node:http2';
import { identityModel, mlpReference, simpleModel } from '../../tools/modelgen/models.js';
import { Rng, mutateBytes, mutateJson, startServeChild, type ServeChild } from '../helpers/fuzz.js';
import { grpc, rawOutputValues, type RpcClient, tritonClient } from '../helpers/grpc.js';
import { INFER_PATH, frame, pb, rawCall, rawSession } from '../helpers/raw-grpc.js';
import { makeRepository } from '../helpers/repository.js';

const CASES = Number(process.env.VIREO_FUZZ_CASES ?? 150);
const SEED = Number(process.env.VIREO_FUZZ_SEED ?? 13);
const TIMEOUT_MS = 15_000;
/** Growth of the server's RSS over the whole suite that still counts as bounded. */
const RSS_GROWTH_LIMIT = 400 * 1024 * 1024;
/** The tabular example's MLP, as tools/prepare-examples.ts makes it. */
const TABULAR = { sizes: [4, 8, 3], seed: 7 };
const VALID_EVERY = 5;

const FORBIDDEN_GRPC = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DATA_LOSS]);

interface Tally { cases: number; valid: number; ok: number; refused: Map<number | string, number>; violations: string[] }
const tallies = new Map<string, Tally>();
function tally(protocol: string): Tally {
  let t = tallies.get(protocol);
  if (!t) tallies.set(protocol, t = { cases: 0, valid: 0, ok: 0, refused: new Map(), violations: [] });
  return t;
}

const ints = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.int(2000) - 1000);
const simpleJson = (a: number[], b: number[]) => ({ inputs: [
  { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', data: a },
  { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', data: b },
] });

/** One HTTP exchange judged: no 5xx, a 4xx has a JSON `{"error": "..."}` body. */
async function http(t: Tally, what: string, url: string, init: RequestInit): Promise<{ status: number; body: any } | undefined> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (error) {
    t.violations.push(`${what}: no answer (${String((error as { cause?: unknown }).cause ?? error)})`);
    return undefined;
  }
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (response.status >= 500) t.violations.push(`${what}: ${response.status} ${text.slice(0, 200)}`);
  else if (response.status >= 400) {
    t.refused.set(response.status, (t.refused.get(response.status) ?? 0) + 1);
    if (typeof body?.error !== 'string' || body.error.length === 0) t.violations.push(`${what}: ${response.status} without an {"error"} body: ${text.slice(0, 200)}`);
  } else t.ok++;
  return { status: response.status, body };
}

function expectValid(t: Tally, what: string, answer: { status: number; body: any } | undefined, check: (body: any) => boolean): void {
  t.valid++;
  if (!answer) return;
  if (answer.status !== 200 || !check(answer.body)) t.violations.push(`valid ${what}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 300)}`);
}

const sameNumbers = (got: unknown, want: number[]) => Array.isArray(got) && got.length === want.length && got.every((v, i) => v === want[i]);
const int32Bytes = (values: number[]) => Buffer.from(Int32Array.from(values).buffer);

describe(`fuzz: ${CASES} cases per protocol, seed ${SEED}`, () => {
  let child: ServeChild;
  let client: RpcClient;
  let session: ClientHttp2Session;
  let cleanup: () => Promise<void>;
  let rssAtStart = 0;
  let rssPeak = 0;
  const sampleRss = () => { rssPeak = Math.max(rssPeak, child.rssBytes()); };

  before(async () => {
    const repo = await makeRepository({
      simple: { versions: { 1: simpleModel() } },
      identity_bytes: { versions: { 1: identityModel('STRING') } },
    });
    await cp(join(import.meta.dirname, '..', '..', 'examples', 'models', 'tabular'), join(repo.root, 'tabular'), { recursive: true });
    cleanup = repo.cleanup;
    child = await startServeChild(repo.root);
    client = tritonClient(child.grpcUrl);
    session = rawSession(child.grpcUrl);
    rssAtStart = child.rssBytes();
  });

  after(async () => {
    session?.close();
    client?.close();
    const rows = [...tallies].map(([p, t]) => `${p}: ${t.cases} cases (${t.valid} valid), ${t.ok} answered, refused ${JSON.stringify(Object.fromEntries(t.refused))}, ${t.violations.length} violations`);
    process.stderr.write(`fuzz summary (seed ${SEED}): server RSS ${Math.round(rssAtStart / 2 ** 20)} MB at start, peak ${Math.round(rssPeak / 2 ** 20)} MB\n${rows.join('\n')}\n`);
    if (child) assert.equal(await child.stop(), 0, 'the server drained and exited 0 after the fuzzing');
    await cleanup?.();
  });

  const finish = (protocol: string) => {
    const t = tally(protocol);
    sampleRss();
    assert.ok(child.alive(), `the server process is up after ${protocol}`);
    assert.deepEqual(t.violations.slice(0, 20), [], `${t.violations.length} violations`);
    assert.ok(rssPeak - rssAtStart < RSS_GROWTH_LIMIT, `RSS grew by ${Math.round((rssPeak - rssAtStart) / 2 ** 20)} MB`);
  };

  it('OIP REST JSON', async () => {
    const rng = new Rng(SEED);
    const t = tally('rest-json');
    for (let i = 0; i < CASES; i++, t.cases++) {
      const a = ints(rng, 16);
      const b = ints(rng, 16);
      const url = `${child.url}/v2/models/${rng.int(8) === 0 ? 'identity_bytes' : 'simple'}/infer`;
      if (i % VALID_EVERY === 0) {
        const answer = await http(t, `case ${i}`, `${child.url}/v2/models/simple/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(simpleJson(a, b)) });
        expectValid(t, `case ${i}`, answer, (body) => sameNumbers(body.outputs[0].data, a.map((x, j) => x + b[j]!)) && sameNumbers(body.outputs[1].data, a.map((x, j) => x - b[j]!)));
        continue;
      }
      let mutated: unknown = simpleJson(a, b);
      for (let k = 1 + rng.int(3); k > 0; k--) mutated = mutateJson(mutated, rng);
      const text = JSON.stringify(mutated) ?? 'null';
      const body = rng.int(4) === 0 ? mutateBytes(Buffer.from(text), rng) : text;
      await http(t, `case ${i}`, url, { method: 'POST', headers: { 'content-type': rng.pick(['application/json', 'application/json', 'text/plain', 'application/x-www-form-urlencoded']) }, body });
      if (i % 50 === 0) sampleRss();
    }
    finish('rest-json');
  });

  it('binary tensor extension', async () => {
    const rng = new Rng(SEED + 1);
    const t = tally('binary');
    for (let i = 0; i < CASES; i++, t.cases++) {
      const a = ints(rng, 16);
      const b = ints(rng, 16);
      let header: unknown = { inputs: [
        { name: 'INPUT0', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } },
        { name: 'INPUT1', shape: [1, 16], datatype: 'INT32', parameters: { binary_data_size: 64 } },
      ], outputs: [{ name: 'OUTPUT0', parameters: { binary_data: false } }] };
      const valid = i % VALID_EVERY === 0;
      if (!valid) header = mutateJson(header, rng);
      const headerBytes = Buffer.from(JSON.stringify(header) ?? 'null');
      let body: Buffer = Buffer.concat([headerBytes, int32Bytes(a), int32Bytes(b)]);
      let headerLength = headerBytes.length;
      if (!valid) {
        const how = rng.int(3);
        if (how === 0) body = mutateBytes(body, rng);
        else if (how === 1) headerLength = rng.pick([0, -1, body.length + 1, rng.int(body.length + 10), 2 ** 40]);
      }
      const answer = await http(t, `case ${i}`, `${child.url}/v2/models/simple/infer`, {
        method: 'POST', headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) }, body,
      });
      if (valid) expectValid(t, `case ${i}`, answer, (out) => sameNumbers(out.outputs[0].data, a.map((x, j) => x + b[j]!)));
    }
    finish('binary');
  });

  it('V1 REST', async () => {
    const rng = new Rng(SEED + 2);
    const t = tally('v1');
    for (let i = 0; i < CASES; i++, t.cases++) {
      const a = ints(rng, 16);
      const b = ints(rng, 16);
      const request = { instances: [{ INPUT0: a, INPUT1: b }] };
      if (i % VALID_EVERY === 0) {
        const answer = await http(t, `case ${i}`, `${child.url}/v1/models/simple:predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
        expectValid(t, `case ${i}`, answer, (out) => sameNumbers(out.predictions?.[0]?.OUTPUT0, a.map((x, j) => x + b[j]!)));
        continue;
      }
      const mutated = rng.int(3) === 0 ? { inputs: mutateJson({ INPUT0: [a], INPUT1: [b] }, rng) } : mutateJson(request, rng);
      const verb = rng.pick([':predict', ':predict', ':classify', ':explain', '']);
      await http(t, `case ${i}`, `${child.url}/v1/models/simple${verb}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(mutated) ?? 'null' });
    }
    finish('v1');
  });

  it('multipart uploads', async () => {
    const rng = new Rng(SEED + 3);
    const t = tally('multipart');
    for (let i = 0; i < CASES; i++, t.cases++) {
      const boundary = `----vireo${rng.int(1e9)}`;
      const content = rng.bytes(1 + rng.int(200)).toString('hex');
      const part = `--${boundary}\r\nContent-Disposition: form-data; name="INPUT"; filename="x.txt"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n--${boundary}--\r\n`;
      const valid = i % VALID_EVERY === 0;
      const body = valid ? Buffer.from(part) : mutateBytes(Buffer.from(part), rng);
      const type = valid || rng.int(3) > 0 ? `multipart/form-data; boundary=${boundary}` : rng.pick(['multipart/form-data', `multipart/form-data; boundary=${'b'.repeat(100)}`, 'image/png', 'application/octet-stream']);
      const answer = await http(t, `case ${i}`, `${child.url}/v2/models/identity_bytes/infer`, { method: 'POST', headers: { 'content-type': type }, body });
      if (valid) expectValid(t, `case ${i}`, answer, (out) => JSON.stringify(out.OUTPUT) === JSON.stringify(content) || JSON.stringify(out.OUTPUT) === JSON.stringify([content]));
    }
    finish('multipart');
  });

  it('dataframe bodies (CSV and JSON records)', async () => {
    const rng = new Rng(SEED + 4);
    const t = tally('dataframe');
    const columns = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
    for (let i = 0; i < CASES; i++, t.cases++) {
      const rows = Array.from({ length: 1 + rng.int(5) }, () => Array.from({ length: 4 }, () => rng.int(80) / 10));
      const csv = `${columns.join(',')}\n${rows.map((r) => r.join(',')).join('\n')}\n`;
      const records = rows.map((r) => Object.fromEntries(columns.map((c, j) => [c, r[j]])));
      const asCsv = rng.int(2) === 0;
      const valid = i % VALID_EVERY === 0;
      const body = asCsv
        ? (valid ? csv : mutateBytes(Buffer.from(csv), rng))
        : JSON.stringify(valid ? records : mutateJson(records, rng)) ?? 'null';
      const answer = await http(t, `case ${i}`, `${child.url}/v2/models/tabular/infer`, { method: 'POST', headers: { 'content-type': asCsv ? 'text/csv' : 'application/json' }, body });
      if (valid) {
        const want = mlpReference(TABULAR.sizes, TABULAR.seed, Float32Array.from(rows.flat()), rows.length);
        expectValid(t, `case ${i}`, answer, (out) => {
          const got = (out.OUTPUT as number[][]).flat();
          return got.length === want.length && got.every((v, j) => Math.abs(v - want[j]!) <= 1e-4 * (1 + Math.abs(want[j]!)));
        });
      }
    }
    finish('dataframe');
  });

  it('gRPC messages (grpc-js)', async () => {
    const rng = new Rng(SEED + 5);
    const t = tally('grpc');
    for (let i = 0; i < CASES; i++, t.cases++) {
      const a = ints(rng, 16);
      const b = ints(rng, 16);
      const message = { model_name: 'simple', inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], contents: { int_contents: a } },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: b } },
      ] };
      const valid = i % VALID_EVERY === 0;
      let request: unknown = message;
      if (!valid) for (let k = 1 + rng.int(3); k > 0; k--) request = mutateJson(request, rng);
      let outcome: { ok: true; response: any } | { ok: false; error: grpc.ServiceError };
      try {
        outcome = await client.call('ModelInfer', request, { deadline: Date.now() + TIMEOUT_MS }).then((response) => ({ ok: true as const, response }), (error: grpc.ServiceError) => ({ ok: false as const, error }));
      } catch {
        t.refused.set('client-side encode', (t.refused.get('client-side encode') ?? 0) + 1);
        continue;
      }
      if (valid) t.valid++;
      if (outcome.ok) {
        t.ok++;
        if (valid && !sameNumbers(rawOutputValues(outcome.response, outcome.response.outputs[0].name), a.map((x, j) => x + b[j]!))) t.violations.push(`valid case ${i}: wrong answer`);
        continue;
      }
      const { code, details } = outcome.error;
      // A message grpc-js itself cannot encode fails on the client with INTERNAL and no server involved.
      if (code === grpc.status.INTERNAL && /serializ/i.test(details)) {
        t.refused.set('client-side encode', (t.refused.get('client-side encode') ?? 0) + 1);
        continue;
      }
      t.refused.set(grpc.status[code], (t.refused.get(grpc.status[code]) ?? 0) + 1);
      if (valid || FORBIDDEN_GRPC.has(code) || code === grpc.status.DEADLINE_EXCEEDED || !details) t.violations.push(`case ${i}: ${grpc.status[code]} ${details?.slice(0, 200)}`);
    }
    finish('grpc');
  });

  it('raw HTTP/2 frames: garbage and mutated protobuf', async () => {
    const rng = new Rng(SEED + 6);
    const t = tally('grpc-raw');
    const paths = [INFER_PATH, INFER_PATH, INFER_PATH, '/inference.GRPCInferenceService/ModelMetadata', '/inference.GRPCInferenceService/ModelConfig', '/inference.GRPCInferenceService/RepositoryIndex', '/grpc.health.v1.Health/Check', '/inference.GRPCInferenceService/SystemSharedMemoryRegister'];
    for (let i = 0; i < CASES; i++, t.cases++) {
      const a = ints(rng, 16);
      const b = ints(rng, 16);
      const input = (name: string, values: number[]) => pb.message(5, pb.bytes(1, name), pb.bytes(2, 'INT32'), pb.int(3, 1), pb.int(3, 16), pb.message(5, ...values.map((v) => pb.int(2, v >>> 0))));
      const message = Buffer.concat([pb.bytes(1, 'simple'), input('INPUT0', a.map((x) => Math.abs(x))), input('INPUT1', b.map((x) => Math.abs(x)))]);
      const valid = i % VALID_EVERY === 0;
      const body = valid ? frame(message) : (() => {
        const mutated = mutateBytes(message, rng);
        const how = rng.int(5);
        if (how === 0) return frame(mutated, 1); // compressed flag, identity encoding
        if (how === 1) return frame(mutated, 0, mutated.length + 1 + rng.int(10)).subarray(0, 5 + mutated.length); // declares more than it sends
        return frame(mutated);
      })();
      const path = valid ? INFER_PATH : rng.pick(paths);
      const headers: Record<string, string> = !valid && rng.int(6) === 0 ? { 'grpc-encoding': rng.pick(['gzip', 'deflate', 'snappy']) } : {};
      let answer;
      try {
        answer = await rawCall(session, path, body, headers, TIMEOUT_MS);
      } catch (error) {
        t.violations.push(`case ${i}: ${String(error)}`);
        continue;
      }
      if (valid) t.valid++;
      if (answer.status === 0) t.ok++;
      else t.refused.set(grpc.status[answer.status] ?? String(answer.status), (t.refused.get(grpc.status[answer.status] ?? String(answer.status)) ?? 0) + 1);
      if (valid && (answer.status !== 0 || answer.messages.length !== 1)) t.violations.push(`valid case ${i}: status ${answer.status} ${answer.message}`);
      if (answer.status === -1 || FORBIDDEN_GRPC.has(answer.status) || (answer.status !== 0 && !answer.message)) t.violations.push(`case ${i} (${path}): status ${answer.status} ${answer.message.slice(0, 200)}`);
    }
    finish('grpc-raw');
  });
});
