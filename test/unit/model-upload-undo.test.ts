/**
 * The undo of a failed load with uploaded files (repository/model-upload.ts) when the undo itself fails:
 * the load's error is what the load rejects with (saying the folder was not restored), the undo's
 * failure is logged, and the copy it could not put back is restored by the model's next load. Real
 * files and real ONNX models; the undo is made to fail by putting a directory where the replaced file
 * was (rename() of a file onto a directory fails with EISDIR, as root too).
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { VireoError } from '../../src/core/errors.js';
import { ModelRepository } from '../../src/repository/model-repository.js';
import { writeModelFiles } from '../../src/repository/model-upload.js';
import { silentLogger } from '../../src/logging/logger.js';
import { ADD_CONFIG, addModel } from '../helpers/lifecycle.js';
import { captureLogger } from '../helpers/logs.js';
import { makeRepository } from '../helpers/repository.js';

let repo: { root: string; cleanup: () => Promise<void> };
let repository: ModelRepository;
const logs = captureLogger();
/** Runs while a load builds its versions, after the upload was written (recorderFor is called per version). */
let duringLoad: ((version: string) => void) | undefined;

before(async () => {
  repo = await makeRepository({
    adder: { config: ADD_CONFIG, versions: { 1: addModel(1) } },
    twice: { config: ADD_CONFIG, versions: { 1: addModel(1) } },
  });
  repository = new ModelRepository({
    root: repo.root,
    logger: logs.logger,
    controlMode: 'explicit',
    recorderFor: (_model, version) => { duringLoad?.(version); return undefined; },
  });
});
after(async () => {
  await repository.close();
  await repo.cleanup();
});

async function infer(model: string, version: string): Promise<number[]> {
  const outputs = await repository.find(model, version).scheduler!.enqueue(
    [{ name: 'INPUT', datatype: 'FP32', shape: [1, 4], data: new Float32Array([1, 2, 3, 4]) }], ['OUTPUT'], 1);
  return Array.from(outputs[0]!.data as Float32Array);
}

it('an undo that fails leaves the load\'s error as the answer, logs the failure, and the next load restores the file', async () => {
  const dir = join(repo.root, 'adder');
  await repository.load('adder');
  assert.deepEqual(await infer('adder', '1'), [2, 3, 4, 5]);

  // Version 1's file is replaced by the upload; version 2 (the one the policy serves) cannot load. While
  // it loads, the uploaded 1/model.onnx becomes a directory: putting the original back then fails.
  duringLoad = (version) => {
    if (version !== '2') return;
    rmSync(join(dir, '1', 'model.onnx'));
    mkdirSync(join(dir, '1', 'model.onnx'));
    writeFileSync(join(dir, '1', 'model.onnx', 'inside'), 'x');
  };
  const failure = await repository.load('adder', { files: [{ path: '1/model.onnx', bytes: addModel(7) }, { path: '2/model.onnx', bytes: new Uint8Array([1, 2, 3]) }] })
    .then(() => assert.fail('the load should fail'), (error: unknown) => error);
  duringLoad = undefined;

  // The load's own error (a VireoError of the load, not the rename's EISDIR), saying what stayed on disk.
  assert.ok(failure instanceof VireoError, String(failure));
  assert.match(failure.message, /^model "adder" version 2 failed to load: /);
  assert.match(failure.message, /restoring the model's previous files failed too/);
  assert.match(failure.message, /1\/model\.onnx \(the uploaded file is in place; the previous one is kept as 1\/model\.onnx\.replaced-[0-9a-f]{12}/);
  assert.doesNotMatch(failure.message, /EISDIR/);
  assert.doesNotMatch(failure.message, new RegExp(repo.root), 'no absolute paths in what a client reads');
  // Logged with the undo's own error, under the model's name.
  const logged = logs.lines.find((l) => l.msg === 'could not restore a file a failed upload replaced');
  assert.ok(logged, JSON.stringify(logs.lines.map((l) => l.msg)));
  assert.equal(logged.model, 'adder');
  assert.equal(logged.file, '1/model.onnx');
  assert.equal((logged.err as { code: string }).code, 'EISDIR');

  // The rest of the undo still ran: version 2's file and folder are gone; the copy of the original stays.
  assert.deepEqual((await readdir(dir)).sort(), ['1', 'config.yaml']);
  const left = (await readdir(join(dir, '1'))).sort();
  assert.equal(left.length, 2, left.join());
  assert.equal(left[0], 'model.onnx');
  assert.match(left[1]!, /^model\.onnx\.replaced-[0-9a-f]{12}$/);
  assert.ok(Buffer.from(addModel(1)).equals(await readFile(join(dir, '1', left[1]!))));
  // The version loaded before still serves.
  assert.deepEqual(await infer('adder', '1'), [2, 3, 4, 5]);

  // Once the directory is gone, the next load puts the original back before it reads the folder.
  rmSync(join(dir, '1', 'model.onnx'), { recursive: true });
  await repository.load('adder');
  assert.deepEqual(await readdir(join(dir, '1')), ['model.onnx']);
  assert.ok(Buffer.from(addModel(1)).equals(await readFile(join(dir, '1', 'model.onnx'))));
  assert.deepEqual(await infer('adder', '1'), [2, 3, 4, 5]);
});

it('an undo that succeeds answers with the load\'s error unchanged; a path uploaded twice comes back as it was first', async () => {
  const dir = join(repo.root, 'twice');
  const change = await writeModelFiles(repo.root, 'twice', [
    { path: '1/model.onnx', bytes: addModel(7) },
    { path: '1/model.onnx', bytes: addModel(8) },
    { path: '3/extra/model.onnx', bytes: addModel(9) },
  ], silentLogger());
  assert.ok(Buffer.from(addModel(8)).equals(await readFile(join(dir, '1', 'model.onnx'))), 'the last one written is in place');
  const loadError = new VireoError('VIREO_ERR_MODEL_LOAD_FAILED', 'the load failed');
  assert.equal(await change.undo(loadError), loadError);
  assert.ok(Buffer.from(addModel(1)).equals(await readFile(join(dir, '1', 'model.onnx'))), 'the original is back');
  assert.deepEqual((await readdir(dir)).sort(), ['1', 'config.yaml']);
  assert.deepEqual(await readdir(join(dir, '1')), ['model.onnx']);
});

it('keep() removes the copies and leaves no marker behind', async () => {
  const dir = join(repo.root, 'twice');
  const change = await writeModelFiles(repo.root, 'twice', [{ path: '1/model.onnx', bytes: addModel(5) }], silentLogger());
  assert.equal((await readdir(join(dir, '1'))).length, 2, 'the copy of the replaced file is kept until the outcome is known');
  await change.keep();
  assert.deepEqual(await readdir(join(dir, '1')), ['model.onnx']);
  assert.deepEqual((await readdir(dir)).sort(), ['1', 'config.yaml']);
  assert.ok(Buffer.from(addModel(5)).equals(await readFile(join(dir, '1', 'model.onnx'))));
});
