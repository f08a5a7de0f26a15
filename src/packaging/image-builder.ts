/**
 * Builds a written context into an image with buildah, showing progress, and measures the result.
 * buildah's own output goes to <context>/build.log (its last lines are shown when a step fails); the user
 * sees one line per Containerfile step with the elapsed time. When buildah is absent, the caller prints the
 * equivalent docker/podman command instead (buildCommands).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PackagingError } from './packaging-error.js';

export interface BuildahOptions {
  /** buildah's --storage-driver (e.g. vfs where overlay is unavailable); buildah's default when absent. */
  storageDriver?: string;
  /** buildah's --isolation (oci, chroot, rootless); buildah's default when absent. */
  isolation?: string;
}

export interface ImageSize {
  /** Sum of the image's (uncompressed) layers, bytes. */
  total: number;
  /** Bytes the build added over the base image. */
  added: number;
  base: number;
}

export function hasBuildah(): boolean {
  return spawnSync('buildah', ['--version'], { stdio: 'ignore' }).status === 0;
}

function globalArgs(options: BuildahOptions): string[] {
  return options.storageDriver ? ['--storage-driver', options.storageDriver] : [];
}

/** The commands that build the context elsewhere (no buildah here). */
export function buildCommands(contextDir: string, tag: string): string[] {
  return [
    `docker build -t ${tag} -f ${join(contextDir, 'Containerfile')} ${contextDir}`,
    `podman build --format docker -t ${tag} -f ${join(contextDir, 'Containerfile')} ${contextDir}`,
  ];
}

function buildah(args: string[], options: BuildahOptions): string {
  const result = spawnSync('buildah', [...globalArgs(options), ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status !== 0) throw new PackagingError(`buildah ${args[0]} failed: ${(result.stderr || result.error?.message || '').trim()}`);
  return result.stdout;
}

/**
 * Runs `buildah bud`; `progress` receives "[n/N] INSTRUCTION" lines. --format docker keeps the HEALTHCHECK
 * (the OCI image config has no field for it); --timestamp makes the image reproducible.
 */
export async function buildImage(contextDir: string, tag: string, epoch: number, options: BuildahOptions, progress: (line: string) => void): Promise<void> {
  const args = [...globalArgs(options), 'bud', '--format', 'docker', '--timestamp', String(epoch), '--layers=false',
    ...(options.isolation ? ['--isolation', options.isolation] : []), '-t', tag, '-f', join(contextDir, 'Containerfile'), contextDir];
  const logPath = join(contextDir, 'build.log');
  const log = createWriteStream(logPath);
  const tail: string[] = [];
  const started = Date.now();
  const child = spawn('buildah', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const onLine = (line: string) => {
    log.write(line + '\n');
    tail.push(line);
    if (tail.length > 30) tail.shift();
    const step = /^(?:\[\d+\/\d+\] )?STEP (\d+)\/(\d+): (.*)$/.exec(line);
    if (step) progress(`[${step[1]}/${step[2]}] ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s  ${step[3]!.slice(0, 100)}`);
    else if (/^(pruned|onnxruntime-node loads|sharp \(libvips)/.test(line)) progress(`        ${line}`);
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  await new Promise((resolve) => log.end(resolve));
  if (code !== 0) throw new PackagingError(`buildah bud failed (exit ${code}); last lines of ${logPath}:\n${tail.join('\n')}`);
}

function layerBytes(image: string, options: BuildahOptions): number[] {
  const info = JSON.parse(buildah(['inspect', '--type', 'image', image], options)) as { Manifest: string };
  const manifest = JSON.parse(info.Manifest) as { layers?: { size: number }[] };
  return (manifest.layers ?? []).map((l) => l.size);
}

/** Layer sizes from the image manifests (uncompressed: buildah does not compress local layers). */
export function imageSize(image: string, base: string, options: BuildahOptions): ImageSize {
  const layers = layerBytes(image, options);
  const baseLayers = base === 'scratch' ? [] : layerBytes(base, options);
  const total = layers.reduce((a, b) => a + b, 0);
  const baseTotal = baseLayers.reduce((a, b) => a + b, 0);
  return { total, base: baseTotal, added: total - baseTotal };
}

/** Copies the built image to `oci-archive:<file>`, `docker-archive:<file>` or `dir:<dir>`. */
export function pushImage(tag: string, destination: string, options: BuildahOptions): void {
  buildah(['push', tag, destination], options);
}

export function formatBytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
