/**
 * Triton's system shared-memory extension, as simple_http_shm_client.py / simple_grpc_shm_client.py
 * use it: regions are real files under /dev/shm, registered by key; inputs are read from them and
 * outputs written into them. Off by default; regions are confined to /dev/shm and bounded.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { grpc, tritonClient, type RpcClient } from '../helpers/grpc.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { add, range16, simpleRequest, sub } from '../helpers/simple.js';

const HAS_SHM = existsSync('/dev/shm');
const tag = `vireo-test-${process.pid}`;
const file = (name: string) => `/dev/shm/${tag}-${name}`;
const int32Bytes = (values: number[]) => Buffer.from(new Int32Array(values).buffer);
const int32s = (bytes: Buffer, from: number, count: number) => [...new Int32Array(bytes.buffer.slice(bytes.byteOffset + from, bytes.byteOffset + from + count * 4))];

const shm = (region: string, offset: number, size: number) => ({ shared_memory_region: region, shared_memory_offset: offset, shared_memory_byte_size: size });

describe('system shared memory', { skip: HAS_SHM ? false : 'no /dev/shm on this machine' }, () => {
  let server: TestServer;
  let client: RpcClient;
  let cleanup: () => Promise<void>;
  const a = range16(3);
  const b = range16(-8).map((x) => x * 5);

  before(async () => {
    const repo = await makeRepository({ simple: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } } });
    cleanup = repo.cleanup;
    server = await startTestServer(repo.root, { allowSharedMemory: true });
    client = tritonClient(server.grpcTarget);
    writeFileSync(file('in'), Buffer.concat([int32Bytes(a), int32Bytes(b)]));
    writeFileSync(file('out'), Buffer.alloc(256));
  });
  after(async () => {
    client.close();
    await server.close();
    await cleanup();
    for (const name of ['in', 'out', 'link']) rmSync(file(name), { force: true });
  });

  const register = (region: string, body: unknown) => server.post(`/v2/systemsharedmemory/region/${region}/register`, body);

  it('registers regions by key and lists them', async () => {
    assert.ok((await server.get('/v2')).body.extensions.includes('system_shared_memory'));
    assert.equal((await register('input_data', { key: `/${tag}-in`, offset: 0, byte_size: 128 })).status, 200);
    assert.equal((await register('output_data', { key: `/${tag}-out`, offset: 0, byte_size: 256 })).status, 200);
    const status = await server.get('/v2/systemsharedmemory/status');
    assert.deepEqual(status.body.sort((x: any, y: any) => x.name.localeCompare(y.name)), [
      { name: 'input_data', key: `/${tag}-in`, offset: 0, byte_size: 128 },
      { name: 'output_data', key: `/${tag}-out`, offset: 0, byte_size: 256 },
    ]);
    const again = await register('input_data', { key: `/${tag}-in`, offset: 0, byte_size: 128 });
    assert.equal(again.status, 400);
    assert.match(again.body.error, /shared memory region 'input_data' already in manager/);
  });

  it('REST: inputs read from and outputs written into the regions; the answer carries no data', async () => {
    const { status, body } = await server.post('/v2/models/simple/infer', {
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: shm('input_data', 0, 64) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], parameters: shm('input_data', 64, 64) },
      ],
      outputs: [{ name: 'OUTPUT0', parameters: shm('output_data', 0, 64) }, { name: 'OUTPUT1', parameters: shm('output_data', 64, 64) }],
    });
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.outputs.map((o: any) => [o.name, o.data, o.parameters]), [
      ['OUTPUT0', undefined, { shared_memory_region: 'output_data', shared_memory_byte_size: 64 }],
      ['OUTPUT1', undefined, { shared_memory_region: 'output_data', shared_memory_byte_size: 64, shared_memory_offset: 64 }],
    ]);
    const out = readFileSync(file('out'));
    assert.deepEqual(int32s(out, 0, 16), add(a, b));
    assert.deepEqual(int32s(out, 64, 16), sub(a, b));
  });

  it('gRPC: the same through ModelInfer, raw_output_contents keeping an empty entry per shared-memory output', async () => {
    writeFileSync(file('out'), Buffer.alloc(256));
    const r = await client.call('ModelInfer', {
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { shared_memory_region: { string_param: 'input_data' }, shared_memory_byte_size: { int64_param: '64' } } },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] },
      ],
      raw_input_contents: [int32Bytes(b)],
      outputs: [{ name: 'OUTPUT0', parameters: { shared_memory_region: { string_param: 'output_data' }, shared_memory_offset: { int64_param: '128' }, shared_memory_byte_size: { int64_param: '64' } } }, { name: 'OUTPUT1' }],
    });
    assert.deepEqual(r.raw_output_contents.map((x: Buffer) => x.length), [0, 64]);
    assert.equal(r.outputs[0].parameters.shared_memory_region.string_param, 'output_data');
    assert.deepEqual(int32s(r.raw_output_contents[1], 0, 16), sub(a, b));
    assert.deepEqual(int32s(readFileSync(file('out')), 128, 16), add(a, b));
    const status = await client.call('SystemSharedMemoryStatus', { name: 'input_data' });
    assert.deepEqual(Object.keys(status.regions), ['input_data']);
    assert.equal(Number(status.regions.input_data.byte_size), 128);
    // Data both in shared memory and in typed contents is refused in Triton's words.
    await assert.rejects(client.call('ModelInfer', {
      model_name: 'simple',
      inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: { shared_memory_region: { string_param: 'input_data' }, shared_memory_byte_size: { int64_param: '64' } }, contents: { int_contents: a } },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], contents: { int_contents: b } },
      ],
    }), (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT
      && e.details === "unexpected 'content' provided when using shared memory for input tensor 'INPUT0' for model 'simple'");
  });

  it('bounds every access: offsets past the region, outputs that do not fit, unknown regions', async () => {
    const past = await server.post('/v2/models/simple/infer', { inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: shm('input_data', 100, 64) },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
    ] });
    assert.equal(past.status, 400);
    assert.match(past.body.error, /Invalid offset \+ byte size for shared memory region: 'input_data'/);
    const small = await server.post('/v2/models/simple/infer', simpleRequest(a, b, { outputs: [{ name: 'OUTPUT0', parameters: shm('output_data', 0, 32) }] }));
    assert.equal(small.status, 400);
    assert.match(small.body.error, /64 bytes do not fit in the 32 bytes/);
    const unknown = await server.post('/v2/models/simple/infer', { inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: shm('nope', 0, 64) },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: b },
    ] });
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.error, /Unable to find shared memory region: 'nope'/);
    const tooBig = await register('big', { key: `/${tag}-in`, offset: 0, byte_size: 4096 });
    assert.equal(tooBig.status, 400);
    assert.match(tooBig.body.error, /Invalid offset \+ byte size .*128 bytes/);
  });

  it('a region is only a file directly under /dev/shm: no other path, no symbolic link', async () => {
    for (const key of ['/../etc/passwd', '/etc/passwd', '../../etc/hostname', `/${tag}-in/../x`]) {
      const response = await register('escape', { key, offset: 0, byte_size: 4 });
      assert.equal(response.status, 400, key);
      assert.match(response.body.error, /Invalid shared memory region/, key);
    }
    symlinkSync('/etc/hostname', file('link'));
    const link = await register('link', { key: `/${tag}-link`, offset: 0, byte_size: 4 });
    assert.equal(link.status, 400);
    assert.match(link.body.error, /Unable to open shared memory region/);
  });

  it('unregisters one region or all', async () => {
    assert.equal((await server.post('/v2/systemsharedmemory/region/input_data/unregister', {})).status, 200);
    assert.deepEqual((await server.get('/v2/systemsharedmemory/status')).body.map((r: any) => r.name), ['output_data']);
    await client.call('SystemSharedMemoryUnregister', {});
    assert.deepEqual((await server.get('/v2/systemsharedmemory/status')).body, []);
  });

  // Triton's shm examples call unregister_cuda_shared_memory() first; a CPU-only Triton lets that
  // succeed (nothing registered), lists no CUDA region and refuses only registration.
  it('CUDA shared memory as a CPU-only Triton: unregister succeeds, status is empty, register is refused', async () => {
    assert.equal((await register('sys_region', { key: `/${tag}-in`, offset: 0, byte_size: 16 })).status, 200);
    try {
      for (const path of ['/v2/cudasharedmemory/unregister', '/v2/cudasharedmemory/region/never_registered/unregister']) {
        const { status, body } = await server.post(path, {});
        assert.equal(status, 200, JSON.stringify(body));
      }
      assert.deepEqual(await client.call('CudaSharedMemoryUnregister', {}), {});
      assert.deepEqual(await client.call('CudaSharedMemoryUnregister', { name: 'never_registered' }), {});
      const all = await server.get('/v2/cudasharedmemory/status');
      assert.equal(all.status, 200);
      assert.deepEqual(all.body, []);
      assert.deepEqual(await client.call('CudaSharedMemoryStatus', {}), { regions: {} });
      const missing = await server.get('/v2/cudasharedmemory/region/nope/status');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error, "Unable to find cuda shared memory region: 'nope'");
      const system = await server.get('/v2/cudasharedmemory/region/sys_region/status');
      assert.equal(system.status, 404);
      assert.equal(system.body.error, "The region named 'sys_region' is registered as system shared memory, not CUDA shared memory");
      await assert.rejects(client.call('CudaSharedMemoryStatus', { name: 'nope' }), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
      const cuda = await server.post('/v2/cudasharedmemory/region/x/register', { raw_handle: { b64: '' }, device_id: 0, byte_size: 4 });
      assert.equal(cuda.status, 400);
      assert.match(cuda.body.error, /^failed to register CUDA shared memory region: 'x', GPUs not supported/);
      await assert.rejects(client.call('CudaSharedMemoryRegister', { name: 'x', raw_handle: Buffer.alloc(64), device_id: 0, byte_size: '4' }),
        (e: grpc.ServiceError) => e.code === grpc.status.INVALID_ARGUMENT && /GPUs not supported/.test(e.details));
      // The system region is untouched by the CUDA unregister calls.
      assert.deepEqual((await server.get('/v2/systemsharedmemory/status')).body.map((r: any) => r.name), ['sys_region']);
    } finally {
      await server.post('/v2/systemsharedmemory/unregister', {});
    }
  });
});

describe('system shared memory off (the default)', () => {
  it('refuses registration and shared-memory inputs and outputs, and does not advertise the extension', async () => {
    const repo = await makeRepository({ simple: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } } });
    const server = await startTestServer(repo.root);
    try {
      assert.equal((await server.get('/v2')).body.extensions.includes('system_shared_memory'), false);
      const refused = await server.post('/v2/systemsharedmemory/region/r/register', { key: '/x', offset: 0, byte_size: 4 });
      assert.equal(refused.status, 403);
      assert.match(refused.body.error, /--allow-shared-memory/);
      const input = await server.post('/v2/models/simple/infer', { inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], parameters: shm('r', 0, 64) },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: range16() },
      ] });
      assert.equal(input.status, 403);
      // An output asked for in shared memory is refused the same way, not answered inline.
      const output = await server.post('/v2/models/simple/infer', { inputs: [
        { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: range16() },
        { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: range16() },
      ], outputs: [{ name: 'OUTPUT0', parameters: shm('r', 0, 64) }] });
      assert.equal(output.status, 403);
      assert.match(output.body.error, /--allow-shared-memory/);
    } finally {
      await server.close();
      await repo.cleanup();
    }
  });
});
