/**
 * Sequence ids in batch jobs keep their type, as over REST: a uint64 `sequence_id` beyond 2^53 is held
 * as its decimal text and marked numeric with a symbol key (core/inference.ts), which the job thread's
 * messages would drop (structured cloning), turning the id into a string id — another sequence than the
 * number's, and one a UINT64 CORRID control refuses. Each job below runs through the official `openai`
 * client against a real server, and its answers must be those computed here from the inputs (the
 * accumulator's running sums; Triton's simple_dyna_sequence, OUTPUT = INPUT + START + END × CORRID), which
 * are also what POST /v2/models/{m}/infer answers for the same bodies, and what `vireo batch` writes for
 * the same file (it parses on the main thread: a guard).
 *
 * Lines of a sequence-batching model are never joined into one request (a last test: the middle steps
 * of one sequence agree on everything; joined, the sequence batcher refused them, and the halves ran
 * after the sequence's end).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { runBatch } from '../../src/app/run-batch.js';
import { silentLogger } from '../../src/logging/logger.js';
import { dynaSequenceModel } from '../../tools/modelgen/models.js';
import { waitFor } from '../helpers/lifecycle.js';
import { makeRepository } from '../helpers/repository.js';
import { accumulator } from '../helpers/accumulator.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const BIG = 18446744073709551610n; // 2^64 − 6
const BIG_53 = 9007199254740993n; // 2^53 + 1

interface Step {
  custom_id: string;
  /** A bigint is written as a bare JSON integer, a string as a JSON string. */
  id: bigint | string;
  flags: Record<string, boolean>;
  value: number;
  /** The answer's OUTPUT, or the status of a refusal. */
  expected: number | { status: number };
}

/** The OIP body of a step, with a bigint id as a bare (exact) JSON integer. */
function bodyText(step: Step): string {
  const id = typeof step.id === 'bigint' ? step.id.toString() : JSON.stringify(step.id);
  return JSON.stringify({ inputs: [{ name: 'INPUT', datatype: 'INT32', shape: [1, 1], data: [step.value] }], parameters: { sequence_id: 0, ...step.flags } })
    .replace('"sequence_id":0', `"sequence_id":${id}`);
}

const jsonl = (model: string, steps: Step[]) => steps
  .map((s) => `{"custom_id":${JSON.stringify(s.custom_id)},"method":"POST","url":"/v2/models/${model}/infer","body":${bodyText(s)}}\n`).join('');

/** The accumulator: a numeric sequence and a string one of the same digits, interleaved — two sums. */
const accSteps: Step[] = [
  { custom_id: 'num-1', id: BIG, flags: { sequence_start: true }, value: 5, expected: 5 },
  { custom_id: 'str-1', id: String(BIG), flags: { sequence_start: true, sequence_end: false }, value: 100, expected: 100 },
  { custom_id: 'num-2', id: BIG, flags: {}, value: 2, expected: 5 + 2 },
  { custom_id: 'str-2', id: String(BIG), flags: { sequence_start: false }, value: 3, expected: 100 + 3 },
  { custom_id: 'num-3', id: BIG, flags: { sequence_end: true }, value: 1, expected: 5 + 2 + 1 },
  { custom_id: 'str-3', id: String(BIG), flags: { sequence_start: false, sequence_end: true }, value: 4, expected: 100 + 3 + 4 },
  { custom_id: 'small', id: 9n, flags: { sequence_start: true, sequence_end: true }, value: 11, expected: 11 },
];

/** simple_dyna_sequence adds START, and END × CORRID (its low 32 bits, as INT32) on the last step. */
const dyna = (value: number, id: bigint, start: boolean, end: boolean) => value + Number(start) + (end ? Number(BigInt.asIntN(32, id)) : 0);
const dynaSteps: Step[] = [
  { custom_id: 'big-start', id: BIG, flags: { sequence_start: true }, value: 1, expected: dyna(1, BIG, true, false) },
  { custom_id: 'big-next', id: BIG, flags: {}, value: 5, expected: dyna(5, BIG, false, false) },
  { custom_id: 'big-end', id: BIG, flags: { sequence_end: true }, value: 3, expected: dyna(3, BIG, false, true) },
  { custom_id: 'big53-one', id: BIG_53, flags: { sequence_start: true, sequence_end: true }, value: 1, expected: dyna(1, BIG_53, true, true) },
  { custom_id: 'small-one', id: 7n, flags: { sequence_start: true, sequence_end: true }, value: 1, expected: dyna(1, 7n, true, true) },
  // A UINT64 CORRID refuses a string id, the digits of BIG included (Triton does too).
  { custom_id: 'string-one', id: String(BIG), flags: { sequence_start: true, sequence_end: true }, value: 1, expected: { status: 400 } },
];

/** One plain-id sequence whose two middle steps agree on everything: they must still run one by one, in order. */
const orderSteps: Step[] = [
  { custom_id: 'first', id: 3n, flags: { sequence_start: true }, value: 1, expected: 1 },
  { custom_id: 'second', id: 3n, flags: {}, value: 2, expected: 1 + 2 },
  { custom_id: 'third', id: 3n, flags: {}, value: 4, expected: 1 + 2 + 4 },
  { custom_id: 'last', id: 3n, flags: { sequence_end: true }, value: 8, expected: 1 + 2 + 4 + 8 },
];

const parseJsonl = (text: string): any[] => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
const outputOf = (body: any): number => body.outputs[0].data[0];

function assertExpected(step: Step, status: number, body: any, where: string): void {
  const what = `${where} ${step.custom_id}: ${JSON.stringify(body)}`;
  if (typeof step.expected === 'number') {
    assert.equal(status, 200, what);
    assert.equal(outputOf(body), step.expected, what);
  } else {
    assert.equal(status, step.expected.status, what);
    assert.match(body.error, /CORRID/, what);
  }
}

describe('sequence ids in batch jobs', () => {
  let repo: { root: string; cleanup: () => Promise<void> };
  let batchDir: string;
  let server: TestServer;
  let client: OpenAI;

  before(async () => {
    repo = await makeRepository({
      acc: accumulator(),
      simple_dyna_sequence: {
        config: await readFile(join(import.meta.dirname, '..', '..', 'examples', 'triton-models', 'simple_dyna_sequence', 'config.pbtxt'), 'utf8'),
        configFile: 'config.pbtxt',
        versions: { 1: dynaSequenceModel() },
      },
    });
    batchDir = await mkdtemp(join(tmpdir(), 'vireo-batch-seq-'));
    server = await startTestServer(repo.root, { batchDir, grpcPort: -1 });
    client = new OpenAI({ apiKey: 'unused', baseURL: `${server.url}/v1`, maxRetries: 0 });
  });
  after(async () => {
    await server?.close();
    await repo?.cleanup();
    if (batchDir) await rm(batchDir, { recursive: true, force: true });
  });

  /** The job's answers by custom_id: status and body, from its output and error files. */
  async function runJob(model: string, steps: Step[]): Promise<Map<string, { status: number; body: any }>> {
    const file = await client.files.create({ file: await toFile(Buffer.from(jsonl(model, steps)), `${model}.jsonl`), purpose: 'batch' });
    const created = await client.batches.create({ input_file_id: file.id, endpoint: `/v2/models/${model}/infer` as any, completion_window: '24h' });
    const batch = await waitFor(`batch ${created.id}`, async () => {
      const b = await client.batches.retrieve(created.id);
      return ['completed', 'failed', 'expired', 'cancelled'].includes(b.status) ? b : undefined;
    }, 60_000);
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    const answers = new Map<string, { status: number; body: any }>();
    for (const id of [batch.output_file_id, batch.error_file_id]) {
      if (!id) continue;
      for (const line of parseJsonl(await (await client.files.content(id)).text())) answers.set(line.custom_id, { status: line.response.status_code, body: line.response.body });
    }
    assert.equal(answers.size, steps.length);
    return answers;
  }

  for (const [model, steps] of [['acc', accSteps], ['simple_dyna_sequence', dynaSteps]] as const) {
    it(`${model}: a job answers each line as /infer answers its body, numeric ids beyond 2^53 included`, async () => {
      const answers = await runJob(model, steps);
      for (const step of steps) assertExpected(step, answers.get(step.custom_id)!.status, answers.get(step.custom_id)!.body, 'job');
      // The same bodies, in the same order, over REST (the job's sequences have ended).
      for (const step of steps) {
        const rest = await server.post(`/v2/models/${model}/infer`, bodyText(step));
        assertExpected(step, rest.status, rest.body, '/infer');
        assert.deepEqual(answers.get(step.custom_id)!.body, rest.body, step.custom_id);
      }
    });
  }

  it('steps of one sequence that agree on everything run one by one, in order, in a job and in vireo batch', async () => {
    const answers = await runJob('acc', orderSteps);
    for (const step of orderSteps) assertExpected(step, answers.get(step.custom_id)!.status, answers.get(step.custom_id)!.body, 'job');
    const dir = await mkdtemp(join(tmpdir(), 'vireo-batch-seq-order-'));
    try {
      const input = join(dir, 'order.jsonl');
      await writeFile(input, jsonl('acc', orderSteps));
      const output = join(dir, 'out');
      const summary = await runBatch({ modelRepository: repo.root, logger: silentLogger(), model: 'acc', inputs: [input], output });
      assert.equal(summary.errors, 0);
      const part = (await readdir(join(output, 'parts'))).find((f) => f.endsWith('.jsonl') && !f.endsWith('.errors.jsonl'))!;
      const byId = new Map(parseJsonl(await readFile(join(output, 'parts', part), 'utf8')).map((l) => [l.custom_id, l]));
      for (const step of orderSteps) assertExpected(step, 200, byId.get(step.custom_id)?.response.body, 'vireo batch');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('vireo batch: a line of a sequence that has ended fails alone, the job goes on', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vireo-batch-seq-ended-'));
    try {
      const steps: Step[] = [
        { custom_id: 'start', id: 4n, flags: { sequence_start: true }, value: 1, expected: 1 },
        { custom_id: 'end', id: 4n, flags: { sequence_end: true }, value: 2, expected: 3 },
        { custom_id: 'late', id: 4n, flags: {}, value: 5, expected: { status: 404 } },
        { custom_id: 'other', id: 5n, flags: { sequence_start: true, sequence_end: true }, value: 7, expected: 7 },
      ];
      const input = join(dir, 'ended.jsonl');
      await writeFile(input, jsonl('acc', steps));
      const output = join(dir, 'out');
      const summary = await runBatch({ modelRepository: repo.root, logger: silentLogger(), model: 'acc', inputs: [input], output });
      assert.deepEqual([summary.rows, summary.errors], [4, 1]);
      const lines = [];
      for (const name of (await readdir(join(output, 'parts'))).filter((f) => f.endsWith('.jsonl'))) lines.push(...parseJsonl(await readFile(join(output, 'parts', name), 'utf8')));
      const byId = new Map(lines.map((l) => [l.custom_id, l]));
      for (const id of ['start', 'end', 'other']) assertExpected(steps.find((s) => s.custom_id === id)!, 200, byId.get(id)?.response.body, 'vireo batch');
      assert.match(byId.get('late')!.error.message, /has ended/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('vireo batch answers the same files the same way', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vireo-batch-seq-cli-'));
    try {
      for (const [model, steps] of [['acc', accSteps], ['simple_dyna_sequence', dynaSteps]] as const) {
        const input = join(dir, `${model}.jsonl`);
        await writeFile(input, jsonl(model, steps));
        const output = join(dir, model);
        await runBatch({ modelRepository: repo.root, logger: silentLogger(), model, loadModels: [model], inputs: [input], output });
        const lines = [];
        for (const name of (await readdir(join(output, 'parts'))).filter((f) => f.endsWith('.jsonl'))) lines.push(...parseJsonl(await readFile(join(output, 'parts', name), 'utf8')));
        const byId = new Map(lines.map((l) => [l.custom_id, l]));
        for (const step of steps) {
          const line = byId.get(step.custom_id);
          assert.ok(line, `${model} ${step.custom_id} answered`);
          if (line.response) assertExpected(step, line.response.status_code, line.response.body, 'vireo batch');
          else assertExpected(step, 400, { error: line.error.message }, 'vireo batch');
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
