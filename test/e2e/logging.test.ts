/**
 * Structured logs over a real server: request ids on request lines (the client's x-request-id or a
 * generated UUID, echoed in the response), model load/unload lines with timings, and Triton's
 * logging extension changing level and time format at run time, from loopback only by default.
 */
import assert from 'node:assert/strict';
import { networkInterfaces } from 'node:os';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { range16, simpleRequest } from '../helpers/simple.js';

const io = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [16] });
const config = { name: 'adder', backend: 'onnx', max_batch_size: 8, input: [io('INPUT0'), io('INPUT1')], output: [io('OUTPUT0'), io('OUTPUT1')] };
const body = simpleRequest(range16(), range16(1));

function capture() {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { lines, logger: pino({ level: 'info', base: undefined }, stream) };
}

function externalAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

describe('logging', () => {
  const { lines, logger } = capture();
  let server: TestServer;
  let cleanup: () => Promise<void>;

  before(async () => {
    const repo = await makeRepository({ adder: { config, versions: { 1: simpleModel() } } });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { logger, httpAddress: '0.0.0.0' });
  });
  after(async () => {
    await server.close();
    await cleanup();
    const unloaded = lines.find((l) => l.msg === 'model unloaded' && l.model === 'adder');
    assert.ok(unloaded && typeof unloaded.unloadMs === 'number', 'one unload line with its duration');
  });

  it('logs one line per model load with its timing', () => {
    const loaded = lines.filter((l) => l.msg === 'model loaded');
    assert.equal(loaded.length, 1);
    assert.equal(loaded[0]!.model, 'adder');
    assert.equal(loaded[0]!.version, '1');
    assert.equal(typeof loaded[0]!.loadMs, 'number');
  });

  it('reports the settings, and at verbose level 1 logs each request with its id', async () => {
    assert.deepEqual((await server.get('/v2/logging')).body,
      { log_file: '', log_info: true, log_warning: true, log_error: true, log_verbose_level: 0, log_format: 'default' });
    await server.post('/v2/models/adder/infer', body, { 'x-request-id': 'quiet-1' });
    assert.ok(!lines.some((l) => l.requestId === 'quiet-1'), 'no per-request lines at level 0');

    const updated = await server.post('/v2/logging', { log_verbose_level: 1 });
    assert.equal(updated.status, 200);
    assert.deepEqual(updated.body, { log_file: '', log_info: true, log_warning: true, log_error: true, log_verbose_level: 1, log_format: 'default' });
    const res = await server.post('/v2/models/adder/infer', body, { 'x-request-id': 'loud-1' });
    assert.equal(res.headers.get('x-request-id'), 'loud-1');
    const own = lines.filter((l) => l.requestId === 'loud-1');
    assert.deepEqual(own.map((l) => l.msg), ['incoming request', 'request completed']);

    const anonymous = await server.post('/v2/models/adder/infer', body);
    const generated = anonymous.headers.get('x-request-id')!;
    assert.match(generated, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(lines.filter((l) => l.requestId === generated).length, 2);
  });

  it('switches the time format and turns levels off', async () => {
    await server.post('/v2/logging', { log_format: 'ISO8601', log_verbose_level: 0 });
    await server.post('/v2/trace/setting', { trace_rate: '5' });
    const changed = lines.filter((l) => l.msg === 'trace settings changed').at(-1)!;
    assert.match(changed.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    await server.post('/v2/logging', { log_info: false, log_format: 'default' });
    const count = lines.length;
    await server.post('/v2/trace/setting', { trace_rate: '6' });
    assert.equal(lines.length, count, 'info lines are dropped with log_info false');
    const back = await server.post('/v2/logging', { log_info: true });
    assert.equal(back.body.log_info, true);
    await server.post('/v2/trace/setting', { trace_rate: '1000' });
    assert.equal(typeof lines.at(-1)!.time, 'number');
  });

  it('refuses bad settings with 400 and changes nothing', async () => {
    const before = (await server.get('/v2/logging')).body;
    for (const bad of [{ log_verbose_level: -1 }, { log_verbose_level: 1.5 }, { log_verbose_level: 1e300 }, { log_verbose_level: 2 ** 32 }, { log_info: 'yes' }, { log_format: 'xml' },
      { log_file: '/tmp/vireo.log' }, { log_level: 3 }, { log_info: false, log_error: 'no' }, [1]]) {
      const res = await server.post('/v2/logging', bad);
      assert.equal(res.status, 400, JSON.stringify(bad));
      assert.equal(typeof res.body.error, 'string');
    }
    assert.deepEqual((await server.get('/v2/logging')).body, before);
  });

  it('accepts settings changes only from loopback', async (t) => {
    const address = externalAddress();
    if (!address) return t.skip('no non-loopback IPv4 interface on this host');
    const port = new URL(server.url).port;
    const remote = `http://${address}:${port}`;
    const read = await fetch(`${remote}/v2/logging`);
    assert.equal(read.status, 200);
    for (const path of ['/v2/logging', '/v2/trace/setting', '/v2/models/adder/trace/setting']) {
      const res = await fetch(remote + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"log_verbose_level":2,"trace_rate":"2"}' });
      assert.equal(res.status, 403, path);
      assert.match(((await res.json()) as { error: string }).error, /only to loopback clients/);
    }
    assert.equal((await server.get('/v2/logging')).body.log_verbose_level, 0);
  });
});
