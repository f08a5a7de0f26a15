/**
 * What people write without a serving runtime: node:http, JSON.parse, one session.run per request
 * on the main thread, JSON.stringify back. Speaks the OIP REST infer path so the same load
 * generator drives it. Usage: tsx bench/naive-server.ts <port> <name>=<model.onnx> ...
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
      const body = JSON.parse(Buffer.concat(chunks).toString());
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of body.inputs) {
        const type = TYPES[input.datatype]!;
        feeds[input.name] = new ort.Tensor(type, type === 'float32' ? Float32Array.from(input.data) : Int32Array.from(input.data), input.shape);
      }
      const results = await session.run(feeds);
      const outputs = Object.entries(results).map(([outName, t]) => ({
        name: outName, datatype: t.type === 'float32' ? 'FP32' : 'INT32', shape: t.dims, data: Array.from(t.data as Float32Array),
      }));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ model_name: name, outputs }));
    } catch (error) {
      res.writeHead(400).end(JSON.stringify({ error: (error as Error).message }));
    }
  });
});
server.listen(port, '127.0.0.1', () => process.stdout.write('ready\n'));
