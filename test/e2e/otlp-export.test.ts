/**
 * The OTLP/HTTP exporter as configured by the standard environment: a real HTTP collector stand-in
 * receives the spans Vireo exports, with the service name and endpoint taken from OTEL_* variables.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer } from '../helpers/server.js';
import { range16, simpleRequest } from '../helpers/simple.js';

const read = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

it('exports spans over OTLP/HTTP to the endpoint and service named by OTEL_* variables', async () => {
  const received: { path: string; body: any }[] = [];
  const collector = createServer(async (req, res) => {
    received.push({ path: req.url ?? '', body: JSON.parse(await read(req)) });
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const port = (collector.address() as AddressInfo).port;
  const saved = { ...process.env };
  Object.assign(process.env, {
    OTEL_TRACES_EXPORTER: 'otlp',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${port}/custom/v1/traces`,
    OTEL_SERVICE_NAME: 'vireo-under-test',
    OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
    OTEL_BSP_SCHEDULE_DELAY: '50',
  });
  const repo = await makeRepository({ adder: { config: { max_batch_size: 8 }, versions: { 1: simpleModel() } } });
  const server = await startTestServer(repo.root, { tracing: { level: 'TIMESTAMPS', rate: 1 } });
  try {
    assert.equal((await server.post('/v2/models/adder/infer', simpleRequest(range16(), range16()))).status, 200);
  } finally {
    await server.close(); // flushes the batch span processor
    process.env = saved;
    await repo.cleanup();
    await new Promise((r) => collector.close(r));
  }
  assert.ok(received.length >= 1, 'the collector received an export');
  assert.ok(received.every((r) => r.path === '/custom/v1/traces'));
  const resourceSpans = received.flatMap((r) => r.body.resourceSpans);
  const attrs = Object.fromEntries(resourceSpans[0].resource.attributes.map((a: any) => [a.key, a.value.stringValue]));
  assert.equal(attrs['service.name'], 'vireo-under-test');
  assert.equal(attrs['deployment.environment'], 'test');
  const names = resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans.map((s: any) => s.name))).sort();
  assert.deepEqual(names, ['compute_infer', 'compute_input', 'compute_output', 'encode_output', 'execute', 'infer adder', 'queue']);
});
