/**
 * What people write without a serving runtime: node:http, one session.run per request on the main
 * thread. Speaks the OIP REST infer path in JSON, and the binary tensor extension's simple case
 * (raw inputs after a JSON header, raw outputs back) so that large tensors cost it no more on the
 * wire than they cost Vireo. Usage: tsx bench/naive-server.ts <port> <name>=<model.onnx> ...
 */
import http from 'node:http';
import * as ort from 'onnxruntime-node';

const port = Number(process.argv[2]);
const sessions = new Map<string, ort.InferenceSession>();
for (const spec of process.argv.slice(3)) {
  const [name, path] = spec.split('=') as [string, string];
  sessions.set(name, await ort.InferenceSession.create(path));
}

const TYPES: Record<string, 'float32' | 'int32'> = { FP32: 'float32', INT32: 'int32' };
interface WireInput { name: string; datatype: string; shape: number[]; data?: number[]; parameters?: { binary_data_size?: number } }

function feedsOf(inputs: WireInput[], raw: Buffer): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  let offset = 0;
  for (const input of inputs) {
    const type = TYPES[input.datatype]!;
    const size = input.parameters?.binary_data_size;
    let data: Float32Array | Int32Array;
    if (size !== undefined) {
      const bytes = raw.subarray(offset, offset + size);
      offset += size;
      // Copied into a fresh, aligned buffer: the request's bytes may start at any offset.
      const copy = new Uint8Array(bytes).buffer;
      data = type === 'float32' ? new Float32Array(copy) : new Int32Array(copy);
    } else {
      data = type === 'float32' ? Float32Array.from(input.data!) : Int32Array.from(input.data!);
    }
    feeds[input.name] = new ort.Tensor(type, data, input.shape);
  }
  return feeds;
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    try {
      const name = /^\/v2\/models\/([^/]+)\/infer$/.exec(req.url ?? '')?.[1];
      const session = name ? sessions.get(name) : undefined;
      if (!session) {
        res.writeHead(404).end('{"error":"unknown model"}');
        return;
      }
      const whole = Buffer.concat(chunks);
      const headerLength = Number(req.headers['inference-header-content-length'] ?? whole.length);
      const body = JSON.parse(whole.subarray(0, headerLength).toString());
      const results = await session.run(feedsOf(body.inputs, whole.subarray(headerLength)));
      const entries = Object.entries(results);
      const datatype = (t: ort.Tensor) => (t.type === 'float32' ? 'FP32' : 'INT32');
      if (body.parameters?.binary_data_output) {
        const raws = entries.map(([, t]) => { const d = t.data as Float32Array; return Buffer.from(d.buffer, d.byteOffset, d.byteLength); });
        const header = Buffer.from(JSON.stringify({
          model_name: name,
          outputs: entries.map(([outName, t], i) => ({ name: outName, datatype: datatype(t), shape: t.dims, parameters: { binary_data_size: raws[i]!.length } })),
        }));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'inference-header-content-length': header.length }).end(Buffer.concat([header, ...raws]));
        return;
      }
      const outputs = entries.map(([outName, t]) => ({ name: outName, datatype: datatype(t), shape: t.dims, data: Array.from(t.data as Float32Array) }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ model_name: name, outputs }));
    } catch (error) {
      res.writeHead(400).end(JSON.stringify({ error: (error as Error).message }));
    }
  });
});
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
