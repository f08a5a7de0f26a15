/**
 * The baseline for per-model memory: the given ONNX files loaded as onnxruntime sessions (default
 * options) in one plain Node process, nothing else. Prints `{"rss": bytes, "threads": n}` once
 * loaded and settled, then stays up until killed.
 * Usage: tsx bench/lib/plain-sessions.ts <model.onnx>...
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

const sessions = [];
for (const path of process.argv.slice(2)) sessions.push(await ort.InferenceSession.create(path));
await new Promise((resolve) => setTimeout(resolve, 1000));
const threads = Number(/Threads:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
console.log(JSON.stringify({ rss: process.memoryUsage.rss(), threads, sessions: sessions.length }));
setInterval(() => undefined, 60_000);
