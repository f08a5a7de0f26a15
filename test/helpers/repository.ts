/** Builds throwaway model repositories on disk for tests. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface ModelFiles {
  /** Written as config.yaml (object) or verbatim (string, to test bad YAML). */
  config?: Record<string, unknown> | string;
  configFile?: string;
  /** version → model bytes (or a string for corrupt files). */
  versions: Record<number, Uint8Array | string>;
  filename?: string;
}

export async function makeRepository(models: Record<string, ModelFiles>): Promise<{ root: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'vireo-test-'));
  for (const [name, files] of Object.entries(models)) await writeModel(root, name, files);
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export async function writeModel(root: string, name: string, files: ModelFiles): Promise<void> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  if (files.config !== undefined) {
    const text = typeof files.config === 'string' ? files.config : stringify(files.config);
    await writeFile(join(dir, files.configFile ?? 'config.yaml'), text);
  }
  for (const [version, bytes] of Object.entries(files.versions)) {
    await mkdir(join(dir, version), { recursive: true });
    await writeFile(join(dir, version, files.filename ?? 'model.onnx'), bytes);
  }
}
