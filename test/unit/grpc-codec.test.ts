/** The gRPC frontend's pure conversions: status table, raw and typed contents, parameters, model config. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { ERROR_STATUSES, VireoError } from '../../src/core/errors.js';
import { GRPC_STATUS, toServiceError } from '../../src/protocols/oip-grpc/grpc-errors.js';
import { inferenceServiceDefinition } from '../../src/protocols/oip-grpc/grpc-proto.js';
import { parseModelInferRequest, type ModelInferRequestMessage } from '../../src/protocols/oip-grpc/grpc-infer-codec.js';
import { toTritonForm } from '../../src/repository/triton-config.js';
import { fromInferParameters, toInferParameters } from '../../src/protocols/oip-grpc/grpc-parameters.js';
import { fromRawContents, fromTypedContents } from '../../src/protocols/oip-grpc/grpc-tensor-contents.js';
import type { ModelConfig } from '../../src/repository/model-config.js';

describe('gRPC status table', () => {
  it('maps every ErrorStatus to the gRPC code of the same name', () => {
    for (const s of ERROR_STATUSES) assert.equal(GRPC_STATUS[s], status[s], s);
    assert.deepEqual(Object.keys(GRPC_STATUS).sort(), [...ERROR_STATUSES].sort());
  });

  it('unknown errors become INTERNAL with their message', () => {
    assert.deepEqual(toServiceError(new Error('boom')), { code: status.INTERNAL, details: 'boom' });
    assert.deepEqual(toServiceError(new VireoError('VIREO_ERR_QUEUE_FULL', 'full')), { code: status.UNAVAILABLE, details: 'full' });
  });
});

describe('raw contents', () => {
  it('aligned bytes become a view of the received buffer, without a copy', () => {
    const message = Buffer.alloc(64);
    const slice = message.subarray(8, 8 + 16);
    new DataView(slice.buffer, slice.byteOffset).setFloat32(4, 2.5, true);
    const data = fromRawContents(slice, 'FP32', 4, 'x') as Float32Array;
    assert.equal(data.buffer, message.buffer);
    assert.equal(data[1], 2.5);
  });

  it('misaligned bytes are copied once into an aligned array with the same values', () => {
    const message = Buffer.alloc(64);
    const slice = message.subarray(3, 3 + 8);
    slice.writeInt32LE(-7, 0);
    slice.writeInt32LE(9, 4);
    const data = fromRawContents(slice, 'INT32', 2, 'x') as Int32Array;
    assert.notEqual(data.buffer, message.buffer);
    assert.deepEqual([...data], [-7, 9]);
  });

  it('a byte size that does not match the shape is refused before any view is made', () => {
    assert.throws(() => fromRawContents(Buffer.alloc(12), 'FP64', 2, 'input "x"'), /input "x": raw contents have 12 bytes but shape and FP64 need 16/);
  });
});

describe('decoding a ModelInferRequest message', () => {
  it('raw_input_contents arrive as views into the received message, and the tensor data stays in it', () => {
    const method = inferenceServiceDefinition().ModelInfer!;
    const values = Float64Array.from([1.5, -2, 3.25]);
    const wire = method.requestSerialize({
      model_name: 'm',
      inputs: [{ name: 'x', datatype: 'FP64', shape: [3] }],
      raw_input_contents: [Buffer.from(values.buffer)],
    });
    // A received message at an offset that makes the FP64 payload 8-byte aligned, as grpc-js hands it over.
    const payloadOffset = wire.indexOf(Buffer.from(values.buffer));
    const pad = (8 - (payloadOffset % 8)) % 8;
    const received = Buffer.alloc(wire.length + pad).subarray(pad);
    wire.copy(received);
    const message = method.requestDeserialize(received) as ModelInferRequestMessage;
    assert.equal(message.raw_input_contents[0]!.buffer, received.buffer);
    const { request } = parseModelInferRequest(message);
    const data = request.inputs[0]!.data as Float64Array;
    assert.equal(data.buffer, received.buffer);
    assert.deepEqual([...data], [1.5, -2, 3.25]);
  });
});

describe('typed contents', () => {
  const empty = { bool_contents: [], int_contents: [], int64_contents: [], uint_contents: [], uint64_contents: [], fp32_contents: [], fp64_contents: [], bytes_contents: [] };
  it('UINT16 from uint_contents, range-checked', () => {
    assert.deepEqual([...(fromTypedContents({ ...empty, uint_contents: [0, 65535] }, 'UINT16', 2, 'x') as Uint16Array)], [0, 65535]);
    assert.throws(() => fromTypedContents({ ...empty, uint_contents: [65536, 1] }, 'UINT16', 2, 'x'), /element 0 \(65536\) is out of range for UINT16/);
  });
  it('UINT64 from decimal strings beyond 2^53, exactly', () => {
    assert.deepEqual([...(fromTypedContents({ ...empty, uint64_contents: ['18446744073709551615'] }, 'UINT64', 1, 'x') as BigUint64Array)], [2n ** 64n - 1n]);
  });
  it('no contents at all for a non-empty shape is an error', () => {
    assert.throws(() => fromTypedContents(null, 'FP32', 3, 'input "x"'), /fp32_contents has 0 elements but the shape needs 3/);
  });
});

describe('request parsing', () => {
  const base: ModelInferRequestMessage = {
    model_name: 'm', model_version: '', id: '', parameters: {}, outputs: [], raw_input_contents: [Buffer.alloc(4)],
    inputs: [{ name: 'x', datatype: 'INT32', shape: ['1'], parameters: {}, contents: null }],
  };
  it('priority and timeout from int64/uint64 parameters (Triton\'s client) reach the request', () => {
    const { request } = parseModelInferRequest({ ...base, parameters: { priority: { parameter_choice: 'uint64_param', uint64_param: '2' }, timeout: { parameter_choice: 'int64_param', int64_param: '1000' } } });
    assert.equal(request.priority, 2);
    assert.equal(request.timeoutUs, 1000);
  });
  it('a shared-memory input is read through the given reader, with no raw_input_contents entry of its own', () => {
    const input = { ...base.inputs[0]!, parameters: { shared_memory_region: { parameter_choice: 'string_param' as const, string_param: 'r' }, shared_memory_byte_size: { parameter_choice: 'int64_param' as const, int64_param: '4' } } };
    assert.throws(() => parseModelInferRequest({ ...base, inputs: [input], raw_input_contents: [] }), (e: VireoError) => e.status === 'INVALID_ARGUMENT' && /not available here/.test(e.message));
    const seen: unknown[] = [];
    const { request } = parseModelInferRequest({ ...base, inputs: [input, { ...base.inputs[0]!, name: 'y' }] }, undefined, (ref, datatype, shape, count) => {
      seen.push([ref, datatype, shape, count]);
      return new Int32Array([7]);
    });
    assert.deepEqual(seen, [[{ region: 'r', offset: 0, byteSize: 4 }, 'INT32', [1], 1]]);
    assert.deepEqual(request.inputs.map((t) => [t.name, [...(t.data as Int32Array)]]), [['x', [7]], ['y', [0]]]);
  });
});

describe('parameters', () => {
  it('round-trips every kind; 64-bit values beyond 2^53 stay exact as strings', () => {
    const wire = toInferParameters({ a: true, b: 's', c: 42, d: 0.5 });
    assert.deepEqual(wire, { a: { bool_param: true }, b: { string_param: 's' }, c: { int64_param: '42' }, d: { double_param: 0.5 } });
    assert.deepEqual(fromInferParameters({ big: { parameter_choice: 'uint64_param', uint64_param: '18446744073709551615' }, none: {} }), { big: '18446744073709551615' });
  });
});

describe('model config translation', () => {
  it('enums spelled as Triton does, parameters as string_value, Vireo-only keys left out', () => {
    const config = {
      name: 'm', backend: 'onnx', max_batch_size: 4, default_model_filename: 'model.onnx',
      input: [{ name: 'x', data_type: 'BYTES', dims: [-1], optional: true }],
      output: [{ name: 'y', data_type: 'FP16', dims: [3], reshape: { shape: [1, 3] }, label_filename: 'labels.txt' }],
      instance_group: [{ count: 2, kind: 'KIND_CPU' }],
      version_policy: { specific: { versions: [1, 3] } },
      parameters: { threads: 2 },
      execution_providers: ['cuda'],
      dynamic_batching: { preferred_batch_size: [2], max_queue_delay_microseconds: 5, preserve_ordering: true, priority_levels: 2, default_priority_level: 1,
        priority_queue_policy: { 1: { timeout_action: 'DELAY', default_timeout_microseconds: 9, allow_timeout_override: true, max_queue_size: 3 } }, adaptive: { target_latency_ms: 5 } },
    } as unknown as ModelConfig;
    const out = toTritonForm(config) as any;
    // Every scalar printed with its default (protobuf JSON with always_print_primitive_fields, as Triton).
    assert.deepEqual(out.input, [{ name: 'x', data_type: 'TYPE_STRING', format: 'FORMAT_NONE', dims: [-1], is_shape_tensor: false, allow_ragged_batch: false, optional: true, is_non_linear_format_io: false }]);
    assert.deepEqual(out.output, [{ name: 'y', data_type: 'TYPE_FP16', dims: [3], reshape: { shape: [1, 3] }, label_filename: 'labels.txt', is_shape_tensor: false, is_non_linear_format_io: false }]);
    assert.equal(out.platform, 'onnxruntime_onnx');
    assert.equal(out.max_batch_size, 4);
    assert.deepEqual(out.parameters, { threads: { string_value: '2' } });
    assert.equal(out.backend, 'onnxruntime');
    assert.equal('execution_providers' in out, false);
    assert.equal('adaptive' in out.dynamic_batching, false);
    assert.deepEqual(out.dynamic_batching.priority_queue_policy['1'], { timeout_action: 'DELAY', default_timeout_microseconds: 9, allow_timeout_override: true, max_queue_size: 3 });
    assert.deepEqual(out.version_policy, { specific: { versions: [1, 3] } });
  });
});
