/** The pure parts of `vireo bench`: perf_analyzer's load ranges, and Triton-shaped statistics (64-bit counters as strings over gRPC). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { snapshotOf } from '../../src/perf/load-drivers.js';
import { parseLoadRange } from '../../src/perf/load-range.js';

it('reads start:end:step ranges that add or multiply', () => {
  assert.deepEqual(parseLoadRange('1:64:x2', 'c'), [1, 2, 4, 8, 16, 32, 64]);
  assert.deepEqual(parseLoadRange('100:500:+100', 'r'), [100, 200, 300, 400, 500]);
  assert.deepEqual(parseLoadRange('100:350:100', 'r'), [100, 200, 300]);
  assert.deepEqual(parseLoadRange('4', 'c'), [4]);
  assert.deepEqual(parseLoadRange('2:5', 'c'), [2, 4]);
  assert.throws(() => parseLoadRange('4:1', 'c'), /end 1 is below start 4/);
  assert.throws(() => parseLoadRange('1:10:x1', 'c'), /above 1/);
  assert.throws(() => parseLoadRange('0:4', 'c'), /start must be a positive number/);
  assert.throws(() => parseLoadRange('1:1000:+1', 'c'), /more than 64 levels/);
  assert.throws(() => parseLoadRange('1:2:3:4', 'c'), /expected start/);
});

it('sums Triton statistics of every version, numbers or decimal strings', () => {
  const version = (n: number | string) => ({
    name: 'm', version: '1', inference_count: n, execution_count: '2',
    inference_stats: { success: { count: n, ns: '3000' }, fail: { count: 0, ns: 0 }, queue: { count: n, ns: 1000 }, compute_input: { count: '4', ns: '40' }, compute_infer: { count: 4, ns: 400 }, compute_output: { count: 4, ns: '4' } },
  });
  const total = snapshotOf([version('4'), version(4)]);
  assert.equal(total.inferenceCount, 8);
  assert.equal(total.executionCount, 4);
  assert.deepEqual(total.success, { count: 8, ns: 6000 });
  assert.deepEqual(total.queue, { count: 8, ns: 2000 });
  assert.deepEqual(total.computeInput, { count: 8, ns: 80 });
  assert.deepEqual(total.computeOutput, { count: 8, ns: 8 });
});
