/**
 * Where an ONNX model's instances start (parameters.execution_worker): a model the defaults name
 * (ModelDefaults.dedicatedModels — `vireo batch` names its job's model) starts on a worker of its
 * own; any other starts `auto`; the configuration's own choice wins either way.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { executionPlacement } from '../../src/repository/model-loader.js';
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
