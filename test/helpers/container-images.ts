/**
 * What the container tests (container.test.ts, batch-container.test.ts) share: the check for
 * buildah/podman/runc, the flags this machine's podman needs (vfs storage, cgroupfs, runc), and a base
 * image built without a registry — `buildah from scratch` plus the host's node binary and the system
 * libraries node and the native addons (onnxruntime, sharp's libvips) link.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');

export const STORAGE = ['--storage-driver', 'vfs'];
export const PODMAN = [...STORAGE, '--cgroup-manager', 'cgroupfs', '--runtime', 'runc'];

/** Why `what` must be skipped (a tool missing), or undefined when buildah, podman and runc are all installed. */
export function missingContainerTools(what: string): string | undefined {
  for (const tool of ['buildah', 'podman', 'runc']) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0) return `${tool} is not installed (apt-get install buildah podman runc); ${what} skipped`;
  }
  return undefined;
}

/** Runs a command to completion and returns its trimmed stdout; throws with its stderr when it fails. */
export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout.trim();
}

/** The shared libraries a binary links, resolved by ldd. */
function linkedLibraries(binary: string): string[] {
  return [...sh('ldd', [binary]).matchAll(/(\/\S+\.so[.\d]*)/g)].map((m) => m[1]!);
}

/** The native addons of the production dependencies: onnxruntime's binding and sharp's (which links libvips). */
function nativeAddons(): string[] {
  const addons = [join(root, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node')];
  addons.push(...sh('find', [join(root, 'node_modules/@img'), '-name', '*.node']).split('\n').filter(Boolean));
  assert.ok(addons.length >= 2, `sharp's native addon not found: ${addons.join(' ')}`);
  return addons;
}

/** Builds `tag` from scratch: node, the system libraries node and the addons need, a /tmp. No shell. */
export function buildBaseImage(tag: string): void {
  // Libraries inside node_modules (libonnxruntime, libvips) travel with the packages, not with the base.
  const libs = new Set([process.execPath, ...nativeAddons()].flatMap(linkedLibraries).filter((lib) => !lib.startsWith(join(root, 'node_modules'))));
  const container = sh('buildah', [...STORAGE, 'from', 'scratch']);
  try {
    const mount = sh('buildah', [...STORAGE, 'mount', container]);
    sh('mkdir', ['-p', join(mount, 'usr/bin'), join(mount, 'tmp')]);
    sh('chmod', ['1777', join(mount, 'tmp')]);
    sh('cp', [process.execPath, join(mount, 'usr/bin/node')]);
    for (const lib of libs) {
      sh('mkdir', ['-p', join(mount, lib, '..')]);
      sh('cp', ['-L', lib, join(mount, lib)]);
    }
    sh('buildah', [...STORAGE, 'umount', container]);
    sh('buildah', [...STORAGE, 'config', '--env', 'PATH=/usr/local/bin:/usr/bin:/bin', container]);
    sh('buildah', [...STORAGE, 'commit', '--rm', '--quiet', container, tag]);
  } catch (error) {
    spawnSync('buildah', [...STORAGE, 'rm', container]);
    throw error;
  }
}
