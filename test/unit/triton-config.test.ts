/**
 * config.pbtxt: protobuf text format parsed against model_config.proto, mapped onto Vireo's config,
 * and Triton's form written back. Fixtures are Triton's documented example configurations.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseWithTritonFields, readModelConfig } from '../../src/repository/config-file.js';
import { modelConfigType } from '../../src/repository/model-config-proto.js';
import type { ModelConfig } from '../../src/repository/model-config.js';
import { parseTextFormat } from '../../src/repository/text-format.js';
import { coerceProtoJson, toTritonForm } from '../../src/repository/triton-config.js';

const FIXTURES = new URL('../fixtures/triton-configs/', import.meta.url);
const fixture = (name: string) => readFile(new URL(`${name}.pbtxt`, FIXTURES), 'utf8');
const parse = (text: string) => parseTextFormat(text, modelConfigType());

describe('protobuf text format', () => {
  it('reads Triton\'s simple example: enums by name, list form, nested messages', async () => {
    const config = parse(await fixture('simple'));
    assert.deepEqual(config, {
      name: 'simple',
      platform: 'onnxruntime_onnx',
      max_batch_size: 8,
      input: [{ name: 'INPUT0', data_type: 'TYPE_INT32', dims: [16] }, { name: 'INPUT1', data_type: 'TYPE_INT32', dims: [16] }],
      output: [{ name: 'OUTPUT0', data_type: 'TYPE_INT32', dims: [16] }, { name: 'OUTPUT1', data_type: 'TYPE_INT32', dims: [16] }],
    });
  });

  it('reads densenet_onnx and inception_onnx (format, reshape, label_filename) into Vireo\'s config', async () => {
    const densenet = parseWithTritonFields(parse(await fixture('densenet_onnx')), 'config.pbtxt');
    assert.deepEqual(densenet.unimplemented, []);
    assert.equal(densenet.config.max_batch_size, 0);
    assert.deepEqual(densenet.config.input?.[0], { name: 'data_0', data_type: 'FP32', format: 'FORMAT_NCHW', dims: [3, 224, 224], reshape: { shape: [1, 3, 224, 224] } });
    assert.equal(densenet.config.output?.[0]?.label_filename, 'densenet_labels.txt');
    const inception = parseWithTritonFields(parse(await fixture('inception_onnx')), 'config.pbtxt');
    assert.equal(inception.config.input?.[0]?.name, 'input:0');
    assert.equal(inception.config.input?.[0]?.format, 'FORMAT_NHWC');
    assert.deepEqual(inception.config.output?.[0]?.reshape, { shape: [1, 1001] });
  });

  it('reads simple_string (TYPE_STRING is BYTES) and the ensemble guide\'s ensemble (maps as records)', async () => {
    const strings = parseWithTritonFields(parse(await fixture('simple_string')), 'config.pbtxt').config;
    assert.deepEqual(strings.input?.map((i) => i.data_type), ['BYTES', 'BYTES']);
    const ensemble = parseWithTritonFields(parse(await fixture('ensemble_model')), 'config.pbtxt').config;
    assert.equal(ensemble.platform, 'ensemble');
    assert.deepEqual(ensemble.ensemble_scheduling?.step.map((s) => [s.model_name, s.model_version, s.input_map, s.output_map]), [
      ['image_preprocess_model', -1, { RAW_IMAGE: 'IMAGE' }, { PREPROCESSED_OUTPUT: 'preprocessed_image' }],
      ['classification_model', -1, { FORMATTED_IMAGE: 'preprocessed_image' }, { CLASSIFICATION_OUTPUT: 'CLASSIFICATION' }],
      ['segmentation_model', -1, { FORMATTED_IMAGE: 'preprocessed_image' }, { SEGMENTATION_OUTPUT: 'SEGMENTATION' }],
    ]);
  });

  it('handles comments, both repeated forms, <> delimiters, separators, hex, escapes and joined strings', async () => {
    const raw = parse(await fixture('kitchen_sink')) as any;
    assert.equal(raw.name, 'kitchen_sink');
    assert.equal(raw.max_batch_size, 8);
    assert.deepEqual(raw.version_policy, { specific: { versions: [1, 2, 3] } });
    assert.deepEqual(raw.input.map((i: any) => i.name), ['IN', 'tab\there-joined']);
    assert.deepEqual(raw.input[0].dims, [-1, 4]);
    assert.deepEqual(raw.input[1].dims, [1]);
    assert.deepEqual(raw.parameters, { intra_op_thread_count: { string_value: '2' }, note: { string_value: 'café é' } });
    assert.deepEqual(raw.dynamic_batching.priority_queue_policy, { 1: { max_queue_size: 3 } });
    assert.deepEqual(raw.model_warmup[0].inputs, { IN: { data_type: 'TYPE_FP32', dims: [1, 4], zero_data: true } });
  });

  it('drops fields Vireo does not implement, naming each once, and keeps the rest', async () => {
    const { config, unimplemented } = parseWithTritonFields(parse(await fixture('kitchen_sink')), 'config.pbtxt');
    assert.deepEqual(unimplemented.sort(), [
      'input[].allow_ragged_batch', 'model_operations', 'optimization.input_pinned_memory', 'optimization.priority', 'output[].is_shape_tensor',
    ]);
    assert.deepEqual(config.instance_group, [{ count: 2, kind: 'KIND_CPU' }]);
    assert.deepEqual(config.dynamic_batching?.preferred_batch_size, [4, 8]);
    assert.equal(config.dynamic_batching?.default_queue_policy?.timeout_action, 'DELAY');
    assert.equal(config.parameters?.intra_op_thread_count, '2');
    assert.deepEqual(config.optimization, { graph: { level: 1 } });
  });

  const errors: [string, RegExp][] = [
    ['name: "a"\nmax_batch: 3', /^2:1: message ModelConfig has no field "max_batch"/],
    ['input { data_type: TYPE_FLOAT }', /^1:20: enum DataType has no value "TYPE_FLOAT"/],
    ['max_batch_size: 1\nmax_batch_size: 2', /^2:1: non-repeated field "max_batch_size" is given more than once/],
    ['max_batch_size: "8"', /^1:17: expected an integer/],
    ['max_batch_size: 4294967296', /out of range/],
    ['name: "open', /^1:7: unterminated string/],
    ['input [ { name: "a" }', /expected "\]"/],
    ['dynamic_batching {}\nsequence_batching {}', /^2:1: field "sequence_batching" and field "dynamic_batching" are both members of oneof/],
    ['name: "a" $', /^1:11: unexpected character "\$"/],
    ['input { name "x" }', /expected ":" after field "name"/],
  ];
  for (const [text, expected] of errors) {
    it(`refuses ${JSON.stringify(text)} with line and column`, () => {
      assert.throws(() => parse(text), (e: Error) => expected.test(e.message));
    });
  }
});

describe('config.pbtxt in a model directory', () => {
  it('is read when alone, and both it and config.yaml present is an error naming both', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vireo-pbtxt-'));
    try {
      await writeFile(join(dir, 'config.pbtxt'), 'max_batch_size: 8\ninstance_group [{ count: 2 }]\ndynamic_batching { }\n');
      const read = await readModelConfig(dir);
      assert.equal(read.file, 'config.pbtxt');
      assert.equal(read.config.max_batch_size, 8);
      assert.equal(read.config.instance_group?.[0]?.count, 2);
      assert.ok(read.config.dynamic_batching);
      await writeFile(join(dir, 'config.pbtxt'), 'max_batch_size: 8\nbogus: 1\n');
      await assert.rejects(readModelConfig(dir), /config\.pbtxt:2:1: message ModelConfig has no field "bogus"/);
      await writeFile(join(dir, 'config.yaml'), 'max_batch_size: 2\n');
      await assert.rejects(readModelConfig(dir), /both config\.yaml and config\.pbtxt/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('protobuf JSON (a load request\'s config)', () => {
  it('takes int64 as strings, enums by number or name and lowerCamelCase names', () => {
    const coerced = coerceProtoJson({ max_batch_size: '16', instanceGroup: [{ count: '2', kind: 2 }], input: [{ name: 'x', data_type: 'TYPE_FP32', dims: ['-1', '3'] }] });
    assert.deepEqual(coerced, { max_batch_size: 16, instance_group: [{ count: 2, kind: 'KIND_CPU' }], input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [-1, 3] }] });
    const { config } = parseWithTritonFields(coerced, 'test');
    assert.equal(config.max_batch_size, 16);
    assert.equal(config.input?.[0]?.data_type, 'FP32');
  });

  it('leaves Vireo\'s own keys for the schema to judge', () => {
    assert.deepEqual(coerceProtoJson({ execution_providers: ['cpu'], max_batch_size: 2 }), { execution_providers: ['cpu'], max_batch_size: 2 });
  });
});

describe('Triton\'s form of a config', () => {
  it('prints every scalar, enums by name, parameters as string_value, no Vireo-only keys', () => {
    const config = {
      name: 'm', backend: 'onnx', max_batch_size: 8, default_model_filename: 'model.onnx',
      input: [{ name: 'data_0', data_type: 'FP32', format: 'FORMAT_NCHW', dims: [3, 224, 224], image: { resize: 'fill' } }],
      output: [{ name: 'y', data_type: 'INT64', dims: [1] }],
      instance_group: [{ count: 1, kind: 'KIND_AUTO' }],
      version_policy: { latest: { num_versions: 1 } },
      parameters: { threads: 2 },
      execution_providers: ['cpu'],
    } as unknown as ModelConfig;
    const out = toTritonForm(config) as any;
    assert.equal(out.name, 'm');
    assert.equal(out.platform, 'onnxruntime_onnx');
    assert.equal(out.backend, 'onnxruntime');
    assert.equal(out.runtime, '');
    assert.equal(out.input[0].format, 'FORMAT_NCHW');
    assert.equal(out.input[0].data_type, 'TYPE_FP32');
    assert.equal('image' in out.input[0], false);
    assert.equal(out.output[0].data_type, 'TYPE_INT64');
    assert.deepEqual(out.instance_group, [{ name: '', kind: 'KIND_AUTO', count: 1, gpus: [], secondary_devices: [], profile: [], passive: false, host_policy: '' }]);
    assert.deepEqual(out.parameters, { threads: { string_value: '2' } });
    assert.deepEqual(out.batch_input, []);
    assert.deepEqual(out.metric_tags, {});
    assert.equal('execution_providers' in out, false);
    assert.equal('dynamic_batching' in out, false);
  });
});
