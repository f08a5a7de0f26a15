/**
 * Arrow IPC bodies are checked before apache-arrow decodes them (src/codecs/arrow-ipc-check.ts): real
 * streams and files of many types pass and decode as written; a body whose metadata claims more
 * entries than its bytes hold (one flipped byte made the server build billions of objects until it ran
 * out of heap) is refused at once; and bodies with random bytes flipped either decode or are refused,
 * each quickly and without holding memory.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { tableFromArrays, tableToIPC, vectorFromArray, Table, Utf8, Dictionary, Int32, List, Field, Float64 } from 'apache-arrow';
import { ArrowIpcInvalid, checkArrowIpc } from '../../src/codecs/arrow-ipc-check.js';
import { parseArrow } from '../../src/codecs/dataframe-codec.js';
import { VireoError } from '../../src/core/errors.js';
import { Rng } from '../helpers/fuzz.js';

const iris = () => tableFromArrays({ sepal_length: Float32Array.of(1, 5), sepal_width: Float32Array.of(2, 6), petal_length: Float32Array.of(3, 7), petal_width: Float32Array.of(4, 8) });

function mixed(): Table {
  return new Table({
    n: vectorFromArray([1.5, null, 3.25], new Float64()),
    s: vectorFromArray(['a', 'bé', null], new Utf8()),
    d: vectorFromArray(['x', 'y', 'x'], new Dictionary(new Utf8(), new Int32())),
    l: vectorFromArray([[1, 2], [], [3]], new List(new Field('item', new Int32()))),
  });
}


it('passes real streams and files of many types, which then decode as written', async () => {
  for (const format of ['stream', 'file'] as const) {
    const bytes = tableToIPC(iris(), format);
    checkArrowIpc(bytes);
    const table = await parseArrow(bytes);
    assert.deepEqual([...table.columns.get('petal_width')!], [4, 8]);
    const other = tableToIPC(mixed(), format);
    checkArrowIpc(other);
  }
});

it('refuses a record batch whose buffers vector claims more entries than its metadata holds, at once', async () => {
  const bytes = Buffer.from(tableToIPC(iris(), 'stream'));
  // The flatbuffer vector lengths of the record batch's nodes and buffers: each one set to 2^30.
  const body = Buffer.from(bytes);
  let flipped = 0;
  for (let at = 0; at + 4 <= body.length; at += 4) {
    if (body.readUInt32LE(at) === 4 || body.readUInt32LE(at) === 8) {
      const copy = Buffer.from(bytes);
      copy.writeUInt32LE(2 ** 30, at);
      const t0 = performance.now();
      try {
        checkArrowIpc(copy);
        await parseArrow(copy);
      } catch (error) {
        assert.ok(error instanceof ArrowIpcInvalid || (error instanceof VireoError && ['INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED'].includes(error.status)), String(error));
        flipped++;
      }
      assert.ok(performance.now() - t0 < 2_000, `offset ${at} took ${performance.now() - t0} ms`);
    }
  }
  assert.ok(flipped > 0, 'some count was refused');
  // The audit's body: byte 0x187 of this stream set to 0x6D (its buffers vector: 1.8 billion entries).
  const audit = Buffer.from(bytes);
  audit[0x187] = 0x6d;
  assert.throws(() => checkArrowIpc(audit), ArrowIpcInvalid);
  await assert.rejects(parseArrow(audit), (e: { code?: string; message: string }) => e.code === 'VIREO_ERR_INPUT_DATA' && /not a valid Arrow IPC/.test(e.message));
});

it('bodies with random bytes flipped decode or are refused, each quickly and within bounded memory', { timeout: 120_000 }, async () => {
  // Seeded (mulberry32, test/helpers/fuzz.ts): the same cases on every run.
  const rng = new Rng(20261201);
  const next = () => rng.next();
  const heapBefore = process.memoryUsage().heapUsed;
  let refused = 0;
  for (const source of [tableToIPC(iris(), 'stream'), tableToIPC(iris(), 'file'), tableToIPC(mixed(), 'stream'), tableToIPC(mixed(), 'file')]) {
    for (let round = 0; round < 400; round++) {
      const body = Buffer.from(source);
      for (let k = 0; k < 3; k++) body[Math.floor(next() * body.length)] = Math.floor(next() * 256);
      const t0 = performance.now();
      try {
        const table = await parseArrow(body);
        assert.ok(table.rows >= 0);
      } catch (error) {
        // Refusals are client errors (bad data, or more rows than allowed), never anything else escaping.
        assert.ok(error instanceof VireoError && ['INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED'].includes(error.status), String(error));
        refused++;
      }
      assert.ok(performance.now() - t0 < 2_000, `round ${round} took ${performance.now() - t0} ms`);
    }
  }
  assert.ok(refused > 0);
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 256 * 1024 * 1024, 'heap stayed bounded');
});
