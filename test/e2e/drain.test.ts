/**
 * Graceful drain of a real `vireo serve` process: on SIGTERM readiness turns false and new requests
 * get 503 while every admitted request completes, then the process exits 0; a second signal or
 * --drain-timeout forces the exit (code 1) with requests still running. A thread given up inside an
 * overrunning onnxruntime run (execute_timeout_ms) does not turn the exit into an abort. Requests still
 * arriving (never admitted) are answered 503 and do not hold the exit.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { slowIdentityModel, slowModel } from '../../tools/modelgen/models.js';
import { startChildServer } from '../helpers/child-server.js';
import { makeRepository } from '../helpers/repository.js';
import { waitFor } from '../helpers/lifecycle.js';

const N = 256;

const request = (i: number) => ({ inputs: [{ name: 'INPUT', shape: [1, N], datatype: 'FP32', data: Array.from({ length: N }, (_, j) => (i * 7 + j) % 50) }] });

/** Sends `text` on a new connection and leaves it unfinished; resolves with all the server sent until it closed. */
async function unfinished(url: string, text: string): Promise<{ answer: Promise<string> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  const answer = new Promise<string>((resolve) => {
    socket.setEncoding('utf8').on('data', (chunk: string) => { received += chunk; }).on('error', () => undefined).once('close', () => resolve(received));
  });
  socket.write(text);
  return { answer };
}

async function infer(url: string, i: number): Promise<{ status: number; body: any }> {
  const response = await fetch(`${url}/v2/models/slow/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request(i)) });
  return { status: response.status, body: await response.json() };
}

describe('graceful drain (child process)', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await makeRepository({
      slow: { config: { max_batch_size: 4, instance_group: [{ count: 1, kind: 'KIND_CPU' }], parameters: { intra_op_threads: 1 } }, versions: { 1: slowIdentityModel(N) } },
      // One call runs for seconds (6,000 MatMul rounds of 256²), far beyond its 100 ms bound.
      overrun: { config: { max_batch_size: 1, parameters: { execute_timeout_ms: 100, execution_worker: 'shared' } }, versions: { 1: slowModel(N, 6000) } },
    });
  });
  after(async () => { await repo.cleanup(); });

  it('SIGTERM: not ready at once, new requests 503, admitted requests complete, exit 0', async () => {
    const child = await startChildServer(repo.root);
    const inflight = [0, 1, 2, 3].map((i) => infer(child.url, i));
    // One instance runs them one at a time: when the first answer arrives, the others are admitted.
    await Promise.race(inflight);
    child.process.kill('SIGTERM');
    await waitFor('the drain log line', () => child.lines.some((l) => l.includes('shutting down: draining requests')));
    const ready = await fetch(`${child.url}/v2/health/ready`);
    assert.equal(ready.status, 503);
    assert.deepEqual(await ready.json(), { ready: false });
    const late = await infer(child.url, 99);
    assert.equal(late.status, 503);
    assert.match(late.body.error, /shutting down/);
    const results = await Promise.all(inflight);
    results.forEach((r, i) => {
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.outputs[0].data, request(i).inputs[0]!.data, `request ${i} got its own identity output`);
    });
    assert.equal(await child.exit, 0);
  });

  it('SIGTERM while a given-up thread is still inside its overrunning run: exit 0 once the run ends, no abort', async () => {
    const child = await startChildServer(repo.root);
    const response = await fetch(`${child.url}/v2/models/overrun/infer`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'INPUT', shape: [1, N], datatype: 'FP32', data: new Array(N).fill(0.01) }] }),
    });
    assert.equal(response.status, 504, await response.text());
    // The run goes on in the given-up thread; ending the process inside it would abort (SIGABRT).
    child.process.kill('SIGTERM');
    assert.equal(await child.exit, 0, child.lines.slice(-5).join('\n'));
    assert.ok(!child.lines.some((l) => l.includes('terminate called')), 'no C++ abort on the way out');
  });

  it('SIGTERM: requests still arriving (headers or body) are answered 503 and do not hold the exit until the drain timeout', async () => {
    const child = await startChildServer(repo.root, ['--drain-timeout', '5']);
    // A slow upload and a client trickling its headers: neither request is whole, so neither was admitted.
    const body = await unfinished(child.url, 'POST /v2/models/slow/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"inputs":');
    const headers = await unfinished(child.url, 'POST /v2/models/slow/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le');
    await sleep(300); // the server reads them
    const started = Date.now();
    child.process.kill('SIGTERM');
    // They held the close until --request-timeout-ms (60 s): the drain timeout ended the process with code 1.
    assert.equal(await child.exit, 0, child.lines.slice(-3).join('\n'));
    assert.ok(Date.now() - started < 4000, `exited after ${Date.now() - started} ms`);
    for (const answer of [await body.answer, await headers.answer]) {
      assert.match(answer, /^HTTP\/1.1 503 /);
      assert.match(answer, /shutting down/);
    }
  });

  it('a second signal forces the exit with code 1', async () => {
    const child = await startChildServer(repo.root);
    const inflight = Array.from({ length: 8 }, (_, i) => infer(child.url, i).catch((error: unknown) => ({ status: 0, body: String(error) })));
    await Promise.race(inflight);
    child.process.kill('SIGTERM');
    await waitFor('the drain log line', () => child.lines.some((l) => l.includes('shutting down: draining requests')));
    child.process.kill('SIGINT');
    assert.equal(await child.exit, 1);
    assert.ok(child.lines.some((l) => l.includes('second signal: exiting now')));
    const unfinished = (await Promise.all(inflight)).filter((r) => r.status !== 200);
    assert.ok(unfinished.length > 0, 'the forced exit left requests unanswered');
  });

  it('--drain-timeout forces the exit with code 1', async () => {
    const child = await startChildServer(repo.root, ['--drain-timeout', '0.2']);
    const inflight = Array.from({ length: 8 }, (_, i) => infer(child.url, i).catch((error: unknown) => ({ status: 0, body: String(error) })));
    await Promise.race(inflight);
    child.process.kill('SIGTERM');
    assert.equal(await child.exit, 1);
    assert.ok(child.lines.some((l) => l.includes('drain timeout: exiting with requests still running')));
    await Promise.all(inflight);
  });
});
