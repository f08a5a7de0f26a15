/**
 * The row runner's seams that `/v1/batches` relies on, over a facade stand-in (the InferFacade
 * contract): a job-level error stops the run, or fails only the rows it hit when the frontend says
 * so (without retrying them one by one); a row error is still isolated to its row (by halving the
 * batch); an abort starts
 * no new batch and rejects the run. And the facade wrappers: background priority on every request,
 * "not now" refusals retried within one window shared by the whole run.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { inBackground, retryingTransient } from '../../../src/batch/facade-wrappers.js';
import { runRows, type InferFacade, type InputRows } from '../../../src/batch/run-rows.js';
import { VireoError, type ErrorCode } from '../../../src/core/errors.js';
import type { InferRequest } from '../../../src/core/inference.js';

/** `count` rows with values 0..count-1; a request covers consecutive rows, one FP32 item each. */
function rows(count: number): InputRows {
  return {
    ids: Array.from({ length: count }, (_, i) => `r${i}`),
    requests: (start, end) => [{
      start,
      items: Array.from({ length: end - start }, () => 1),
      request: { model: 'm', inputs: [{ name: 'x', datatype: 'FP32', shape: [end - start, 1], data: Float32Array.from({ length: end - start }, (_, i) => start + i) }] },
    }],
  };
}

/** Answers with its input (identity), or with the error `fail` picks for a request. */
function facade(fail: (request: InferRequest) => ErrorCode | undefined = () => undefined): InferFacade & { calls: InferRequest[] } {
  const calls: InferRequest[] = [];
  return {
    calls,
    async infer(request) {
      calls.push(request);
      await new Promise((resolve) => setImmediate(resolve));
      const code = fail(request);
      if (code) throw new VireoError(code, `refused (${code})`);
      return { model: 'm', version: '1', outputs: request.inputs.map((t) => ({ ...t, name: 'y' })) };
    },
  };
}

const values = (result: Awaited<ReturnType<typeof runRows>>[number]) => (result.ok ? [...(result.outputs[0]!.data as Float32Array)] : result.error.code);

it('a job-level error stops the run, or fails just the rows of its batch when failRowsOn says so', async () => {
  // Rows 4..7 (the second batch) meet a model that is gone.
  const server = facade((r) => ((r.inputs[0]!.data as Float32Array)[0] === 4 ? 'VIREO_ERR_MODEL_NOT_FOUND' : undefined));
  await assert.rejects(runRows(rows(12), { server, batchSize: 4, maxInflight: 1 }), (e: VireoError) => e.code === 'VIREO_ERR_MODEL_NOT_FOUND');
  const failing = facade((r) => ((r.inputs[0]!.data as Float32Array)[0] === 4 ? 'VIREO_ERR_MODEL_NOT_FOUND' : undefined));
  const results = await runRows(rows(12), { server: failing, batchSize: 4, maxInflight: 2, failRowsOn: () => true });
  assert.deepEqual(results.map(values), [[0], [1], [2], [3], ...Array.from({ length: 4 }, () => 'VIREO_ERR_MODEL_NOT_FOUND'), [8], [9], [10], [11]]);
  assert.equal(failing.calls.length, 3, 'three batches, none retried row by row');
});

it('a row error is isolated by halving the batch, so only the bad row fails and the others still run in batches', async () => {
  const server = facade((r) => ((r.inputs[0]!.data as Float32Array).includes(5) ? 'VIREO_ERR_INPUT_DATA' : undefined));
  const results = await runRows(rows(8), { server, batchSize: 4, maxInflight: 1, failRowsOn: () => true });
  assert.deepEqual(results.map(values), [[0], [1], [2], [3], [4], 'VIREO_ERR_INPUT_DATA', [6], [7]]);
  // One bad row among 64 in one batch: 64 → 32 → 16 → 8 → 4 → 2 → 1 is 1 + 2·6 calls, not 1 + 64.
  const wide = facade((r) => ((r.inputs[0]!.data as Float32Array).includes(37) ? 'VIREO_ERR_INPUT_DATA' : undefined));
  const all = await runRows(rows(64), { server: wide, batchSize: 64, maxInflight: 1, failRowsOn: () => true });
  assert.deepEqual(all.map(values), Array.from({ length: 64 }, (_, i) => (i === 37 ? 'VIREO_ERR_INPUT_DATA' : [i])));
  assert.equal(wide.calls.length, 13);
  // A request that cannot even be built (a bad cell) is halved the same way, before any inference.
  const built: [number, number][] = [];
  const unbuildable: InputRows = { ...rows(16), requests: (start, end) => {
    built.push([start, end]);
    if (start <= 9 && 9 < end) throw new VireoError('VIREO_ERR_INPUT_DATA', 'row 9 is bad');
    return rows(16).requests(start, end);
  } };
  const server2 = facade();
  const out = await runRows(unbuildable, { server: server2, batchSize: 16, maxInflight: 1, failRowsOn: () => true });
  assert.deepEqual(out.map(values), Array.from({ length: 16 }, (_, i) => (i === 9 ? 'VIREO_ERR_INPUT_DATA' : [i])));
  // [0,8) runs; [8,16) → [8,12) → [8,10) → [8,9) runs, [9,10) fails; then [10,12) and [12,16) run.
  assert.deepEqual(server2.calls.map((c) => c.inputs[0]!.shape[0]), [8, 1, 2, 4]);
});

it('an abort starts no new batch, and the run rejects unless every row was answered', async () => {
  const stop = new AbortController();
  const server = facade();
  const aborting: InferFacade = {
    infer: (request) => {
      if (server.calls.length === 1) stop.abort(); // the second batch is in flight when the stop comes
      return server.infer(request);
    },
  };
  await assert.rejects(runRows(rows(40), { server: aborting, batchSize: 4, maxInflight: 1, signal: stop.signal }), (e: VireoError) => e.code === 'VIREO_ERR_REQUEST_CANCELLED');
  assert.equal(server.calls.length, 2, 'the batch in flight is answered, no other starts');
  // Once aborted, a failure stops the run even where it would have failed only its rows (the stop may be its cause).
  const stopping = new AbortController();
  const gone = facade(() => {
    stopping.abort();
    return 'VIREO_ERR_MODEL_NOT_READY';
  });
  await assert.rejects(runRows(rows(4), { server: gone, batchSize: 4, maxInflight: 1, signal: stopping.signal, failRowsOn: () => true }), (e: VireoError) => e.code === 'VIREO_ERR_MODEL_NOT_READY');
});

it('inBackground marks every request as background work', async () => {
  const server = facade();
  await runRows(rows(8), { server: inBackground(server), batchSize: 4, maxInflight: 2 });
  assert.equal(server.calls.length, 2);
  assert.ok(server.calls.every((r) => r.background === true));
});

it('retryingTransient waits out "not now" refusals within one window shared by the whole run', async () => {
  let refusals = 2;
  const flaky = facade(() => (refusals-- > 0 ? 'VIREO_ERR_QUEUE_FULL' : undefined));
  const results = await runRows(rows(4), { server: retryingTransient(flaky, { windowMs: 60_000 }), batchSize: 4, maxInflight: 1 });
  assert.deepEqual(results.map(values), [[0], [1], [2], [3]]);
  assert.equal(flaky.calls.length, 3, 'two refusals, then the answer');

  // A model that stays away: the first request spends the window, later ones fail at once.
  const away = facade(() => 'VIREO_ERR_MODEL_NOT_READY');
  const retrying = retryingTransient(away, { windowMs: 300 });
  const request = rows(1).requests(0, 1) as { request: InferRequest }[];
  await assert.rejects(retrying.infer(request[0]!.request), (e: VireoError) => e.code === 'VIREO_ERR_MODEL_NOT_READY');
  const spent = away.calls.length;
  assert.ok(spent > 1, 'retried within the window');
  await assert.rejects(retrying.infer(request[0]!.request));
  assert.equal(away.calls.length, spent + 1, 'the window is spent: no more retries');

  // Refusals that say "never" are not retried, and an abort ends the retries.
  const never = facade(() => 'VIREO_ERR_INPUT_SHAPE');
  await assert.rejects(retryingTransient(never, { windowMs: 60_000 }).infer(request[0]!.request));
  assert.equal(never.calls.length, 1);
  const stop = new AbortController();
  stop.abort();
  const full = facade(() => 'VIREO_ERR_QUEUE_FULL');
  await assert.rejects(retryingTransient(full, { windowMs: 60_000, signal: stop.signal }).infer(request[0]!.request));
  assert.equal(full.calls.length, 1);
});
