/**
 * The image's prune list (src/packaging/prune-list.ts) checked against the installed packages: nothing it
 * deletes is a file node resolves for the package ("main", or an "exports" target under a condition node
 * sets), an entry point it drops is imported by no installed package, and the dependencies it calls
 * install-only are never required by the package's run-time files. The rules are read from the packages'
 * own manifests and sources here, independently of the prune script.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { describe, it } from 'node:test';
import { INSTALL_ONLY_DEPENDENCIES, PRUNE_LIST, UNUSED_FILE } from '../../src/packaging/prune-list.js';
import { PRUNE_SCRIPT } from '../../src/packaging/prune-script.js';

const modules = join(import.meta.dirname, '..', '..', 'node_modules');
/** The conditions node sets when it imports and when it requires (module-sync and node-addons in both, as in Node 22+). */
const IMPORT = new Set(['node', 'import', 'default', 'module-sync', 'node-addons']);
const REQUIRE = new Set(['node', 'require', 'default', 'module-sync', 'node-addons']);

/**
 * The targets of an exports map node selects under `conditions`, after Node's PACKAGE_TARGET_RESOLVE: in a
 * conditions object the first key node sets whose target resolves wins; later keys are never reached.
 */
function selected(value: unknown, conditions: Set<string>): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap((v) => selected(v, conditions));
  if (!value || typeof value !== 'object') return [];
  const entries = Object.entries(value);
  if (entries.some(([key]) => key.startsWith('.'))) return entries.flatMap(([, v]) => selected(v, conditions));
  for (const [key, v] of entries) {
    if (!conditions.has(key)) continue;
    const found = selected(v, conditions);
    if (found.length > 0) return found;
  }
  return [];
}
const nodeTargets = (exports: unknown) => [...selected(exports, IMPORT), ...selected(exports, REQUIRE)];

/** Whether `subpath` (./x/y) is an "exports" key, or matches one of its patterns (./*, ./lib/*). */
function exported(exports: object, subpath: string): boolean {
  return Object.keys(exports).some((key) => key === subpath
    || (key.includes('*') && subpath.startsWith(key.slice(0, key.indexOf('*'))) && subpath.endsWith(key.slice(key.indexOf('*') + 1))));
}

function jsFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    // node_modules/.cache holds builds of this checkout (bin/source-bundle.js), not installed packages.
    if (e.isDirectory()) return e.name === 'node_modules' || e.name === '.cache' ? [] : jsFiles(p);
    return /\.(c|m)?js$/.test(e.name) ? [p] : [];
  });
}

const manifest = (name: string) => JSON.parse(readFileSync(join(modules, name, 'package.json'), 'utf8')) as {
  main?: string; exports?: unknown; dependencies?: Record<string, string>; bin?: unknown;
};

describe('prune list', () => {
  it('names only installed packages, and no licence file', () => {
    for (const entry of PRUNE_LIST) {
      assert.ok(existsSync(join(modules, entry.package, 'package.json')), `${entry.package} is not installed`);
      assert.ok(entry.paths.some((p) => existsSync(join(modules, entry.package, p))), `${entry.package}: none of ${entry.paths.join(', ')} exists (stale entry)`);
      for (const p of entry.paths) assert.doesNotMatch(p, /licen[cs]e|notice|copying/i);
      assert.ok(entry.why.length > 20, `${entry.package}: say why`);
    }
  });

  it('never deletes a file node resolves for the package, unless the entry point is unused', () => {
    for (const entry of PRUNE_LIST.filter((e) => !e.unlessImported)) {
      const pkg = join(modules, entry.package);
      const m = manifest(entry.package);
      const targets = [m.main ?? 'index.js', ...nodeTargets(m.exports)].map((t) => resolve(pkg, t.split('*')[0]!));
      for (const path of entry.paths.map((p) => resolve(pkg, p))) {
        for (const target of targets) {
          assert.ok(target !== path && !target.startsWith(path + sep), `${entry.package}: ${relative(pkg, path)} holds ${relative(pkg, target)}, which node resolves`);
        }
      }
    }
  });

  it('drops an unused entry point only when no installed package imports it', () => {
    for (const entry of PRUNE_LIST.filter((e) => e.unlessImported)) {
      const specifier = entry.unlessImported!;
      assert.ok(specifier.startsWith(`${entry.package}/`));
      // The entry point really is one (so the prune step's check is what keeps it safe)...
      const m = manifest(entry.package);
      assert.ok(exported(m.exports as object, `.${specifier.slice(entry.package.length)}`), specifier);
      // ...and no installed package, development tools included, imports it.
      const quoted = [`'${specifier}'`, `"${specifier}"`];
      const importers = jsFiles(modules).filter((f) => !f.startsWith(join(modules, entry.package) + sep)
        && quoted.some((q) => readFileSync(f, 'utf8').includes(q)));
      assert.deepEqual(importers, []);
    }
  });

  it('install-only dependencies: the package declares them and its run-time files never require them', () => {
    for (const [name, deps] of Object.entries(INSTALL_ONLY_DEPENDENCIES)) {
      const m = manifest(name);
      const runtime = jsFiles(join(modules, name)).filter((f) => !/(^|[\\/])(script|scripts|bin)[\\/]/.test(relative(join(modules, name), f)));
      assert.ok(runtime.length > 0, name);
      for (const dep of deps) {
        assert.ok(m.dependencies?.[dep], `${name} does not depend on ${dep} (stale entry)`);
        const users = runtime.filter((f) => new RegExp(`(require\\s*\\(|from|import\\s*\\(|import)\\s*['"]${dep}(/[^'"]*)?['"]`).test(readFileSync(f, 'utf8')));
        assert.deepEqual(users.map((f) => relative(modules, f)), [], `${name} requires ${dep} at run time`);
      }
      // The files that do use them are the ones left out of the run-time set: the install script or the CLI.
      const all = jsFiles(join(modules, name));
      assert.ok(deps.every((dep) => all.some((f) => readFileSync(f, 'utf8').includes(`require("${dep}")`) || readFileSync(f, 'utf8').includes(`require('${dep}')`))), `${name}: no file uses ${deps.join(', ')}`);
    }
  });

  it('the file-name rule matches tool configuration and C sources, never code, data or licences', () => {
    for (const name of ['.eslintrc', '.eslintrc.json', '.nycrc', '.editorconfig', '.gitattributes', '.travis.yml', 'tsconfig.tsbuildinfo', 'common.cc', 'glibconfig.h', 'binding.gyp', '.borp.yaml']) {
      assert.match(name, UNUSED_FILE, name);
    }
    for (const name of ['index.js', 'index.cjs', 'index.mjs', 'package.json', 'LICENSE', 'NOTICE', 'grpc_service.proto', 'data.yaml', 'schema.json', 'libvips-cpp.so.8.18.7', 'x.node', 'icu.c.js']) {
      assert.doesNotMatch(name, UNUSED_FILE, name);
    }
  });
  it('the generated prune script is valid JavaScript (it runs only inside the image build otherwise)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vireo-prune-script-'));
    try {
      await writeFile(join(dir, 'prune.mjs'), PRUNE_SCRIPT);
      const check = spawnSync(process.execPath, ['--check', join(dir, 'prune.mjs')], { encoding: 'utf8' });
      assert.equal(check.status, 0, check.stderr);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
