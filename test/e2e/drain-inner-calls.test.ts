/**
 * Graceful drain with requests that call other models on behalf of an admitted one: an ensemble's
 * later steps and a handler's BLS call. The drain used to close every scheduler at once, so the
 * step or call that came after the signal was refused ("the model is unloading") and the admitted
 * request failed with 503 mid-way. Every admitted request must be answered.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const io = (name: string) => ({ name, data_type: 'TYPE_INT32', dims: [1] });
/** Sleeps IN ms, then answers OUT = IN. */
const sleeper = 'export async function execute(requests) { await new Promise((r) => setTimeout(r, requests[0].inputs.IN.data[0])); return requests.map((r) => ({ outputs: { OUT: { data: r.inputs.IN.data } } })); }';
/** Sleeps IN ms, then asks "second" (BLS) for OUT. */
const caller = `let ctx;
export function initialize(context) { ctx = context; }
export async function execute(requests) {
  const ms = requests[0].inputs.IN.data[0];
  await new Promise((r) => setTimeout(r, ms));
  return Promise.all(requests.map(async (r) => ({ outputs: { OUT: { data: (await ctx.infer('second', { IN: { datatype: 'INT32', shape: [1], data: r.inputs.IN.data } })).OUT.data } } })));
}`;
const handler = (code: string) => ({ config: { backend: 'typescript', max_batch_size: 0, input: [io('IN')], output: [io('OUT')] }, versions: { 1: code }, filename: 'model.js' });

let server: TestServer;
let cleanup: () => Promise<void>;
before(async () => {
  const repo = await makeRepository({
    first: handler(sleeper),
    second: handler(sleeper),
    bls: handler(caller),
    pipe: {
      config: {
        platform: 'ensemble', max_batch_size: 0, input: [io('X')], output: [io('Y')],
        ensemble_scheduling: { step: [
          { model_name: 'first', input_map: { IN: 'X' }, output_map: { OUT: 'T' } },
          { model_name: 'second', input_map: { IN: 'T' }, output_map: { OUT: 'Y' } },
        ] },
      },
      versions: { 1: '' },
      filename: '.keep',
    },
  });
  cleanup = repo.cleanup;
  server = await startTestServer(repo.root, { grpcPort: -1 });
});
after(async () => { await cleanup(); });

it('close() during the first step of an ensemble and before a BLS call: both admitted requests are answered', async () => {
  const ms = 600;
  const ask = (model: string, input: string) => server.post(`/v2/models/${model}/infer`, { inputs: [{ name: input, shape: [1], datatype: 'INT32', data: [ms] }] });
  const ensemble = ask('pipe', 'X');
  const bls = ask('bls', 'IN');
  await sleep(ms / 3); // both are in their first model now; "second" is called after the drain began
  assert.equal(server.server.inflight, 2);
  const closed = server.close();
  const [a, b] = await Promise.all([ensemble, bls]);
  assert.equal(a.status, 200, JSON.stringify(a.body));
  assert.deepEqual(a.body.outputs[0].data, [ms]);
  assert.equal(b.status, 200, JSON.stringify(b.body));
  assert.deepEqual(b.body.outputs[0].data, [ms]);
  await closed;
});
