/**
 * Wire-format benchmark (not a test): one 4 MB FP32 tensor through an identity model, side by side in
 * one run, over OIP REST JSON, OIP REST binary tensor data and OIP gRPC raw contents (vireo/client),
 * against a Vireo server in its own process. Reports requests/s, tensor MB/s (input + output) and the
 * binary ÷ JSON ratio.
 *
 *   npx tsx bench/wire-formats.ts [--seconds 5] [--concurrency 1]
 *
 * Writes bench/results/wire-formats.json and bench/results/wire-formats.md.
 *
 * `runWireFormatsBench({ extraFormats })` takes more `WireFormat`s measured in the same run (same
 * server process, same tensor).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GrpcInferenceClient, HttpInferenceClient } from '../src/client/index.js';
import { identityModel } from '../tools/modelgen/models.js';

const MIN_REQUESTS = 5;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export interface WireFormatContext {
  httpUrl: string;
  /** `host:port` of the server's gRPC frontend. */
  grpcTarget: string;
  model: string;
  input: Float32Array;
}

/** One way of sending the tensor: `setup` returns a function doing one checked round trip. */
export interface WireFormat {
  name: string;
  setup(context: WireFormatContext): Promise<{ infer(): Promise<void>; close(): Promise<void> }>;
}

export interface FormatResult { format: string; requests: number; seconds: number; requestsPerSecond: number; megabytesPerSecond: number }

export interface WireFormatsReport {
  date: string;
  tensorBytes: number;
  concurrency: number;
  results: FormatResult[];
  binaryOverJson: number;
}

function checked(output: Float32Array, input: Float32Array): void {
  const last = input.length - 1;
  if (output.length !== input.length || output[0] !== input[0] || output[last] !== input[last]) {
    throw new Error('identity model returned something other than its input');
  }
}

const httpFormat = (name: string, binary: boolean): WireFormat => ({
  name,
  async setup({ httpUrl, model, input }) {
    const client = new HttpInferenceClient(httpUrl, { connections: 4 });
    return {
      async infer() {
        const result = await client.infer(model, [{ name: 'INPUT', datatype: 'FP32', shape: [1, input.length], data: input }], { binary });
        checked(result.outputs[0]!.data as Float32Array, input);
      },
      close: () => client.close(),
    };
  },
});

export const HTTP_FORMATS: WireFormat[] = [httpFormat('REST JSON', false), httpFormat('REST binary', true)];

/** gRPC with raw_input_contents / raw_output_contents, as Triton's gRPC client sends tensors. */
export const GRPC_FORMATS: WireFormat[] = [{
  name: 'gRPC raw',
  async setup({ grpcTarget, model, input }) {
    const client = new GrpcInferenceClient(grpcTarget);
    return {
      async infer() {
        const result = await client.infer(model, [{ name: 'INPUT', datatype: 'FP32', shape: [1, input.length], data: input }]);
        checked(result.outputs[0]!.data as Float32Array, input);
      },
      close: () => client.close(),
    };
  },
}];

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

async function startServerProcess(repository: string): Promise<{ url: string; grpcTarget: string; child: ChildProcess }> {
  const port = await freePort();
  const grpcPort = await freePort();
  const child = spawn(process.execPath, [join(root, 'bin', 'vireo.js'), 'serve', '--model-repository', repository,
    '--http-port', String(port), '--grpc-port', String(grpcPort), '--http-address', '127.0.0.1', '--log-format', 'json'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const grpcTarget = `127.0.0.1:${grpcPort}`;
  const url = `http://127.0.0.1:${port}`;
  const probe = new HttpInferenceClient(url);
  try {
    for (let attempt = 0; attempt < 600; attempt++) {
      if (child.exitCode !== null) throw new Error(`the server exited with code ${child.exitCode}`);
      if (await probe.serverReady().catch(() => false)) return { url, grpcTarget, child };
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('the server did not become ready within 60 s');
  } finally {
    await probe.destroy();
  }
}

async function measure(format: WireFormat, context: WireFormatContext, seconds: number, concurrency: number): Promise<FormatResult> {
  const session = await format.setup(context);
  try {
    for (let i = 0; i < 2; i++) await session.infer(); // warm-up: connections, JIT, the model's first run
    let requests = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      // At least MIN_REQUESTS per format, so a slow format is not judged on one or two round trips.
      while (performance.now() < deadline || requests < MIN_REQUESTS) {
        await session.infer();
        requests++;
      }
    }));
    const elapsed = (performance.now() - started) / 1000;
    const requestsPerSecond = requests / elapsed;
    // Tensor bytes moved per request: the input there and the identical output back.
    const megabytesPerSecond = (requestsPerSecond * 2 * context.input.byteLength) / 1e6;
    return { format: format.name, requests, seconds: elapsed, requestsPerSecond, megabytesPerSecond };
  } finally {
    await session.close();
  }
}

export function markdownTable(report: WireFormatsReport): string {
  const lines = [
    `| format | requests/s | tensor MB/s (in + out) | vs REST JSON |`,
    `|---|---|---|---|`,
  ];
  const json = report.results.find((r) => r.format === 'REST JSON');
  for (const r of report.results) {
    const ratio = json ? `${(r.requestsPerSecond / json.requestsPerSecond).toFixed(1)}×` : '—';
    lines.push(`| ${r.format} | ${r.requestsPerSecond.toFixed(1)} | ${r.megabytesPerSecond.toFixed(1)} | ${ratio} |`);
  }
  return `${lines.join('\n')}\n\n${(report.tensorBytes / 2 ** 20).toFixed(0)} MiB FP32 tensor, identity model, concurrency ${report.concurrency}, ${report.date}.\n`;
}

export async function runWireFormatsBench(options: { seconds?: number; concurrency?: number; extraFormats?: WireFormat[] } = {}): Promise<WireFormatsReport> {
  const seconds = options.seconds ?? 5;
  const concurrency = options.concurrency ?? 1;
  const repository = await mkdtemp(join(tmpdir(), 'vireo-bench-'));
  let child: ChildProcess | undefined;
  try {
    await mkdir(join(repository, 'identity_fp32', '1'), { recursive: true });
    await writeFile(join(repository, 'identity_fp32', '1', 'model.onnx'), identityModel('FLOAT'));
    const server = await startServerProcess(repository);
    child = server.child;
    const input = Float32Array.from({ length: (4 * 2 ** 20) / 4 }, (_, i) => Math.fround(Math.sin(i) * 1000));
    const context: WireFormatContext = { httpUrl: server.url, grpcTarget: server.grpcTarget, model: 'identity_fp32', input };
    const results: FormatResult[] = [];
    for (const format of [...HTTP_FORMATS, ...GRPC_FORMATS, ...(options.extraFormats ?? [])]) {
      results.push(await measure(format, context, seconds, concurrency));
    }
    const rate = (name: string) => results.find((r) => r.format === name)!.requestsPerSecond;
    return { date: new Date().toISOString(), tensorBytes: input.byteLength, concurrency, results, binaryOverJson: rate('REST binary') / rate('REST JSON') };
  } finally {
    child?.kill('SIGTERM');
    await rm(repository, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const arg = (name: string, fallback: number) => {
    const index = process.argv.indexOf(`--${name}`);
    return index > 0 ? Number(process.argv[index + 1]) : fallback;
  };
  const report = await runWireFormatsBench({ seconds: arg('seconds', 5), concurrency: arg('concurrency', 1) });
  const table = markdownTable(report);
  const out = join(root, 'bench', 'results');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'wire-formats.json'), `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(join(out, 'wire-formats.md'), `# Wire formats\n\n${table}\nbinary ÷ JSON: ${report.binaryOverJson.toFixed(1)}×\n`);
  process.stdout.write(`${table}\nbinary ÷ JSON: ${report.binaryOverJson.toFixed(1)}×\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error) => {
    process.stderr.write(`${(error as Error).stack ?? error}\n`);
    process.exitCode = 1;
  });
}
