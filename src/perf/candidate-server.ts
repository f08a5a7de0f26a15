/**
 * One Vireo process serving one candidate configuration, for `vireo tune`: a temporary model
 * repository holding the model's files (symbolic links, nothing copied) and the candidate's
 * config.json, served by `vireo serve` in its own process (so the measuring client and the server
 * do not share an event loop) on a free loopback port, in explicit mode with only that model.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const CONFIG_FILES = new Set(['config.yaml', 'config.yml', 'config.json']);
const VIREO_BIN = join(import.meta.dirname, '..', '..', 'bin', 'vireo.js');

export interface CandidateServer {
  url: string;
  /** The model's state once loading ended: READY, or UNAVAILABLE with the reason. */
  ready: { ok: true } | { ok: false; reason: string };
  close(): Promise<void>;
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((done) => child.once('exit', () => done()));
}

/** `loadTimeoutMs` bounds the start and the model's load (a model that never loads is reported, not waited on forever). */
export async function startCandidate(repository: string, model: string, config: Record<string, unknown>, loadTimeoutMs = 180_000): Promise<CandidateServer> {
  const root = mkdtempSync(join(tmpdir(), 'vireo-tune-'));
  const source = resolve(repository, model);
  const target = join(root, model);
  const cleanup = () => rmSync(root, { recursive: true, force: true });
  try {
    mkdirSync(target);
    // Version directories are real directories (discovery lists directories, not links) of links.
    for (const entry of readdirSync(source, { withFileTypes: true })) {
      if (CONFIG_FILES.has(entry.name)) continue;
      if (!entry.isDirectory()) {
        symlinkSync(join(source, entry.name), join(target, entry.name));
        continue;
      }
      mkdirSync(join(target, entry.name));
      for (const file of readdirSync(join(source, entry.name))) symlinkSync(join(source, entry.name, file), join(target, entry.name, file));
    }
    writeFileSync(join(target, 'config.json'), JSON.stringify(config, null, 2));
  } catch (error) {
    cleanup();
    throw error;
  }
  const child = spawn(process.execPath, [VIREO_BIN, 'serve', '--model-repository', root, '--http-address', '127.0.0.1', '--http-port', '0', '--grpc-port', '-1',
    '--allow-metrics', 'false', '--log-format', 'json', '--model-control-mode', 'explicit', '--load-model', model], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-2000); });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited(child);
      clearTimeout(killer);
    }
    cleanup();
  };
  const deadline = Date.now() + loadTimeoutMs;
  try {
    const url = await new Promise<string>((resolveUrl, reject) => {
      const timer = setTimeout(() => reject(new Error(`vireo serve did not listen within ${loadTimeoutMs} ms`)), loadTimeoutMs);
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`vireo serve exited (${code}) before listening: ${stderr.trim()}`)); });
      createInterface({ input: child.stdout! }).on('line', (line) => {
        try {
          const record = JSON.parse(line) as { msg?: string; url?: string };
          if (record.msg?.startsWith('HTTP') && record.url) {
            clearTimeout(timer);
            resolveUrl(record.url);
          }
        } catch {
          // not a log record
        }
      });
    });
    for (;;) {
      const index = await (await fetch(`${url}/console/api/models`)).json() as { models: { name: string; state: string; reason: string }[] };
      const versions = index.models.filter((m) => m.name === model);
      if (versions.some((v) => v.state === 'READY')) return { url, ready: { ok: true }, close: stop };
      // Before its load starts the model is listed as UNAVAILABLE, "not loaded" (repository-index.ts): still pending.
      if (versions.length > 0 && versions.every((v) => v.state === 'UNAVAILABLE' && v.reason && !v.reason.startsWith('not loaded'))) {
        return { url, ready: { ok: false, reason: versions.map((v) => v.reason).join('; ') }, close: stop };
      }
      if (Date.now() > deadline) throw new Error(`model "${model}" did not load within ${loadTimeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (error) {
    await stop();
    throw error;
  }
}
