/**
 * Where an ONNX model's instances start (parameters.execution_worker): a model the defaults name
 * (ModelDefaults.dedicatedModels — `vireo batch` names its job's model) starts on a worker of its
 * own; any other starts `auto`; the configuration's own choice wins either way.
 * The job's model also gets its own instance group (ModelDefaults.jobInstances, `--instances`).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { executionPlacement } from '../../src/repository/model-loader.js';
import { DEFAULT_MODEL_DEFAULTS, executionsPerInstance, jobInstanceGroup } from '../../src/repository/model-defaults.js';
import { parseInstances } from '../../src/cli/batch-command.js';
import type { ParsedModelConfig } from '../../src/repository/model-config.js';

const config = (parameters?: Record<string, string>) => ({ name: 'm', max_batch_size: 4, input: [], output: [], ...(parameters ? { parameters } : {}) }) as unknown as ParsedModelConfig;

it('dedicated when the defaults name the model, auto otherwise, the configuration first', () => {
  assert.equal(executionPlacement(config(), true), 'dedicated');
  assert.equal(executionPlacement(config(), false), 'auto');
  assert.equal(executionPlacement(config({ execution_worker: 'shared' }), true), 'shared');
  assert.equal(executionPlacement(config({ execution_worker: 'auto' }), true), 'auto');
  assert.equal(executionPlacement(config({ execution_worker: 'dedicated' }), false), 'dedicated');
  assert.throws(() => executionPlacement(config({ execution_worker: 'own' }), true), /execution_worker must be auto, dedicated or shared/);
});

it("the batch job's model: one single-threaded instance per core (auto), a given count, or the configuration's", () => {
  const group = (parsed: ParsedModelConfig, count: number | 'auto', model = 'm', cores = 2) =>
    jobInstanceGroup(parsed, model, { ...DEFAULT_MODEL_DEFAULTS, jobInstances: { model: 'm', count } }, cores).instance_group;
  const pinned = { ...config(), instance_group: [{ count: 1, kind: 'KIND_CPU' }] } as unknown as ParsedModelConfig;
  assert.deepEqual(group(config(), 'auto'), [{ count: 2, kind: 'KIND_CPU' }]);
  assert.deepEqual(group(pinned, 'auto', 'm', 4), [{ count: 4, kind: 'KIND_CPU' }]);
  assert.deepEqual(group(pinned, 3), [{ count: 3, kind: 'KIND_CPU' }]);
  // Other models, one core, tuned threads, and models whose instances are not plain sessions keep theirs.
  assert.equal(group(pinned, 'auto', 'other'), pinned.instance_group);
  assert.equal(group(config(), 'auto', 'm', 1), undefined);
  assert.equal(group(config({ intra_op_threads: '2' }), 'auto'), undefined);
  assert.deepEqual(group(config({ intra_op_threads: '2' }), 2), [{ count: 2, kind: 'KIND_CPU' }]);
  for (const other of [{ backend: 'typescript' }, { platform: 'ensemble' }, { sequence_batching: {} }, { instance_group: [{ count: 1, kind: 'KIND_GPU' }] }]) {
    const parsed = { ...config(), ...other } as unknown as ParsedModelConfig;
    assert.equal(group(parsed, 'auto'), parsed.instance_group, JSON.stringify(other));
  }
  assert.equal(jobInstanceGroup(pinned, 'm', DEFAULT_MODEL_DEFAULTS, 2), pinned);
});

it("the batch job's model takes two executions per instance; other models, handlers, ensembles and sequences one", () => {
  const pipelined = { ...DEFAULT_MODEL_DEFAULTS, pipelinedModels: ['m'] };
  assert.equal(executionsPerInstance(config(), 'm', pipelined), 2);
  assert.equal(executionsPerInstance(config(), 'other', pipelined), 1);
  assert.equal(executionsPerInstance(config(), 'm', DEFAULT_MODEL_DEFAULTS), 1);
  for (const other of [{ backend: 'typescript' }, { platform: 'ensemble' }, { sequence_batching: {} }, { model_transaction_policy: { decoupled: true } }]) {
    assert.equal(executionsPerInstance({ ...config(), ...other } as unknown as ParsedModelConfig, 'm', pipelined), 1, JSON.stringify(other));
  }
});

it('--instances takes auto, config or a count from 1 to 64', () => {
  assert.equal(parseInstances('auto'), 'auto');
  assert.equal(parseInstances('config'), 'config');
  assert.equal(parseInstances(' 4 '), 4);
  for (const bad of ['0', '65', '-1', '2.5', 'many', '']) assert.throws(() => parseInstances(bad), /auto, config or a count from 1 to 64/, bad);
});
