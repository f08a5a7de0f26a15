/**
 * SIGTERM under load with clients that keep their connections open — undici (fetch), a node:http
 * keep-alive agent, a grpc-js channel, and one fetch client that sits idle on its connection — must
 * answer every admitted request, refuse the rest (503 with `Connection: close`, gRPC UNAVAILABLE),
 * and exit 0 as soon as the last admitted request is answered: never by the drain timeout.
 * Before the fix, 503s went out with `Connection: keep-alive` and requests written on those
 * sockets as they were closed got resets with no answer.
 */
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { slowIdentityModel } from '../../tools/modelgen/models.js';
import { startChildServer } from '../helpers/child-server.js';
import { grpc, rawOutputValues, tritonClient } from '../helpers/grpc.js';
import { waitFor } from '../helpers/lifecycle.js';
import { makeRepository } from '../helpers/repository.js';

const N = 64;
const LOOPS_PER_CLIENT = 3;

type Outcome = { kind: 'ok'; closing?: boolean } | { kind: 'refused'; connectionClose?: boolean } | { kind: 'wrong'; detail: string } | { kind: 'error'; detail: string };

const values = (i: number) => Array.from({ length: N }, (_, j) => (i * 13 + j) % 97);
const body = (i: number) => JSON.stringify({ inputs: [{ name: 'INPUT', shape: [1, N], datatype: 'FP32', data: values(i) }] });

/** The identity model's answer is its input: anything else is a wrong answer. */
function judge(status: number, text: string, i: number, connection?: string): Outcome {
  if (status === 503) return { kind: 'refused', connectionClose: connection === 'close' };
  if (status !== 200) return { kind: 'wrong', detail: `${status} ${text.slice(0, 200)}` };
  const data = JSON.parse(text).outputs[0].data;
  return JSON.stringify(data) === JSON.stringify(values(i)) ? { kind: 'ok', closing: connection === 'close' } : { kind: 'wrong', detail: 'not the identity' };
}

/** A connection the server no longer accepts is a refusal (nothing was sent); anything else is a failure. */
function connectionError(error: unknown): Outcome {
  const cause = (error as { cause?: unknown }).cause ?? error;
  if ((cause as { code?: string }).code === 'ECONNREFUSED') return { kind: 'refused' };
  return { kind: 'error', detail: String(cause) };
}

async function viaFetch(url: string, i: number): Promise<Outcome> {
  try {
    const r = await fetch(`${url}/v2/models/slow/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(i) });
    return judge(r.status, await r.text(), i, r.headers.get('connection') ?? undefined);
  } catch (error) {
    return connectionError(error);
  }
}

function viaHttpAgent(agent: Agent, url: string, i: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = httpRequest(`${url}/v2/models/slow/infer`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => { text += c; }).on('end', () => resolve(judge(res.statusCode!, text, i, res.headers.connection)));
    });
    req.on('error', (error) => resolve(connectionError(error)));
    req.end(body(i));
  });
}

function viaGrpc(client: ReturnType<typeof tritonClient>, i: number): Promise<Outcome> {
  const request = { model_name: 'slow', inputs: [{ name: 'INPUT', datatype: 'FP32', shape: [1, N], contents: { fp32_contents: values(i) } }] };
  return client.call('ModelInfer', request).then(
    (r) => (JSON.stringify(rawOutputValues(r, r.outputs[0].name)) === JSON.stringify(values(i)) ? { kind: 'ok' as const } : { kind: 'wrong' as const, detail: 'not the identity' }),
    (e: grpc.ServiceError) => (e.code === grpc.status.UNAVAILABLE ? { kind: 'refused' as const } : { kind: 'error' as const, detail: `${grpc.status[e.code]} ${e.details}` }),
  );
}

/** A `vireo serve` child with HTTP and gRPC on free ports. */
async function startServe(root: string, extra: string[]) {
  const child = await startChildServer(root, extra, { grpc: true });
  return { url: child.url, grpcUrl: child.grpcUrl!, lines: child.lines, exit: child.exit, kill: (signal: NodeJS.Signals) => child.process.kill(signal) };
}

describe('drain under load with keep-alive clients (child process)', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    repo = await makeRepository({
      slow: { config: { max_batch_size: 4, instance_group: [{ count: 1, kind: 'KIND_CPU' }], parameters: { intra_op_threads: 1 } }, versions: { 1: slowIdentityModel(N) } },
      // Never settles for a negative input, and sets no execute_timeout_ms.
      stalling: {
        config: { backend: 'typescript', max_batch_size: 0, input: [{ name: 'IN', data_type: 'TYPE_INT32', dims: [2] }], output: [{ name: 'OUT', data_type: 'TYPE_INT32', dims: [2] }] },
        versions: { 1: 'export function execute(requests) { if (requests[0].inputs.IN.data[0] < 0) return new Promise(() => {}); return requests.map((r) => ({ outputs: { OUT: { data: r.inputs.IN.data } } })); }' },
        filename: 'model.js',
      },
    });
  });
  after(async () => { await repo.cleanup(); });

  it('SIGTERM: admitted requests answered, the rest refused, exit 0 without waiting for the drain timeout', async () => {
    const { url, grpcUrl, lines, exit, kill } = await startServe(repo.root, ['--drain-timeout', '60']);

    // A client that lives on with an idle keep-alive connection (the case that held the drain).
    assert.equal((await viaFetch(url, 0)).kind, 'ok');
    const agent = new Agent({ keepAlive: true, maxSockets: LOOPS_PER_CLIENT });
    const grpcClient = tritonClient(grpcUrl);

    let sent = 0;
    let stopped = false;
    const outcomes: { outcome: Outcome; beforeSignal: boolean }[] = [];
    const loop = async (send: (i: number) => Promise<Outcome>) => {
      while (!stopped || outcomes.length < 5000) {
        const i = ++sent;
        const beforeSignal = !signalled;
        const outcome = await send(i);
        outcomes.push({ outcome, beforeSignal });
        // A client told the server is closing (an answer with Connection: close, a refusal) goes
        // elsewhere, as a load balancer does. One that kept opening connections to a listener about
        // to close could meet a reset from the kernel's accept queue, which no server can prevent.
        if (outcome.kind !== 'ok' || outcome.closing) return;
      }
    };
    let signalled = false;
    const loops = [
      ...Array.from({ length: LOOPS_PER_CLIENT }, () => loop((i) => viaFetch(url, i))),
      ...Array.from({ length: LOOPS_PER_CLIENT }, () => loop((i) => viaHttpAgent(agent, url, i))),
      ...Array.from({ length: LOOPS_PER_CLIENT }, () => loop((i) => viaGrpc(grpcClient, i))),
    ];
    await waitFor('load under way', () => outcomes.length >= 30, 60_000);
    signalled = true;
    kill('SIGTERM');
    stopped = true;
    const code = await exit;
    await Promise.all(loops);
    agent.destroy();
    grpcClient.close();

    const count = (kind: Outcome['kind']) => outcomes.filter((o) => o.outcome.kind === kind).length;
    const problems = outcomes.filter((o) => o.outcome.kind === 'wrong' || o.outcome.kind === 'error').map((o) => JSON.stringify(o));
    process.stderr.write(`drain: ${count('ok')} answered, ${count('refused')} refused, ${problems.length} failed; exit ${code}\n${problems.join('\n')}\n`);
    assert.equal(code, 0, lines.slice(-20).join('\n'));
    assert.ok(!lines.some((l) => l.includes('drain timeout')), 'the drain ended by itself, not by --drain-timeout');
    assert.ok(lines.some((l) => l.includes('drained: every admitted request answered')), 'the drain says it ended');
    assert.deepEqual(problems, [], 'every request was answered with its identity or refused');
    assert.ok(outcomes.filter((o) => o.beforeSignal).every((o) => o.outcome.kind === 'ok'), 'requests before SIGTERM all answered');
    const refusedHttp = outcomes.filter((o) => o.outcome.kind === 'refused' && 'connectionClose' in o.outcome && o.outcome.connectionClose !== undefined);
    assert.ok(refusedHttp.every((o) => (o.outcome as { connectionClose: boolean }).connectionClose), '503s close their connection');
  });

  it('SIGTERM while a handler hangs: the default execute timeout answers it (504), the drain ends by itself, exit 0', async () => {
    const { url, lines, exit, kill } = await startServe(repo.root, ['--handler-execute-timeout-ms', '1500', '--drain-timeout', '30']);
    const hung = fetch(`${url}/v2/models/stalling/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs: [{ name: 'IN', shape: [2], datatype: 'INT32', data: [-1, 1] }] }) });
    await new Promise((r) => setTimeout(r, 200));
    kill('SIGTERM');
    const answer = await hung;
    assert.equal(answer.status, 504);
    assert.match(((await answer.json()) as { error: string }).error, /did not finish the request within 1500 ms/);
    assert.equal(await exit, 0, lines.slice(-20).join('\n'));
    assert.ok(!lines.some((l) => l.includes('drain timeout')), 'not ended by --drain-timeout');
    assert.ok(lines.some((l) => l.includes('instance worker died') && l.includes('1500 ms')), 'the log says which model hung');
  });
});
