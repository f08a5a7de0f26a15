/**
 * `vireo batch --input` globs under folders whose names hold glob characters, and links that lead
 * nowhere (batch/input-plan.ts). A glob's ids are relative to the folder it names, `scans (2024)` or
 * `photos [raw]` included, and the glob characters of such a folder never reach the matcher; a glob's
 * own wildcards still match as before. A link in an input folder, or matched by a glob, that leads
 * nowhere refuses the input by its name instead of vanishing. Expected ids: the files written here,
 * relative to the folder they were written in.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { planInputs, type PlannedInput } from '../../src/batch/input-plan.js';
import type { VireoError } from '../../src/core/errors.js';

const dir = await mkdtemp(join(tmpdir(), 'vireo-input-hardening-'));
after(() => rm(dir, { recursive: true, force: true }));

const refused = (pattern: RegExp) => (error: VireoError) => error.code === 'VIREO_ERR_BATCH_INPUT_INVALID' && pattern.test(error.message);

/** Writes `files` (paths relative to `folder`) and returns them as the ids they must get, sorted. */
async function files(folder: string, names: string[]): Promise<string[]> {
  for (const name of names) {
    await mkdir(join(folder, name, '..'), { recursive: true });
    await writeFile(join(folder, name), name);
  }
  return [...names].sort();
}

const ids = (planned: PlannedInput[]) => planned.flatMap((p) => (p.kind === 'images' ? p.files.map((f) => f.relative) : [p.path]));
const paths = (planned: PlannedInput[]) => planned.flatMap((p) => (p.kind === 'images' ? p.files.map((f) => f.absolute) : [p.path]));

it('a glob under a folder named with parentheses, brackets, braces or a "!" has ids relative to that folder', async () => {
  for (const name of ['scans (2024)', 'photos [raw]', 'set {1}', 'a!b', 'x+(y) @(z)']) {
    const folder = join(dir, 'named', name);
    const written = await files(folder, ['a.png', 'b.png', 'sub/c.png', 'sub (1)/d.png']);
    const deep = await planInputs([join(folder, '**', '*.png')]);
    assert.deepEqual(ids(deep), written, name);
    assert.deepEqual(paths(deep), written.map((f) => join(folder, f)), name);
    assert.deepEqual(ids(await planInputs([join(folder, '*.png')])), ['a.png', 'b.png'], name);
    // Its wildcards below the folder still match, and so does a folder with glob characters below a literal one.
    assert.deepEqual(ids(await planInputs([join(folder, 's*', '*.png')])), ['sub (1)/d.png', 'sub/c.png'], name);
    assert.deepEqual(ids(await planInputs([join(folder, 'sub (1)', '?.png')])), ['d.png'], name);
  }
});

it('a folder escaped as tinyglobby escapes it is the same folder; a glob character with no such folder is still a glob', async () => {
  const folder = join(dir, 'escaped', 'scans (2024)');
  await files(folder, ['one.png', 'two.png']);
  assert.deepEqual(ids(await planInputs([`${join(dir, 'escaped')}/scans \\(2024\\)/*.png`])), ['one.png', 'two.png']);
  // No folder is named "[ab]" or "{a,b}": they are a class and a brace list, and the ids start below them.
  const classes = join(dir, 'classes');
  await files(classes, ['a/x.png', 'b/y.png', 'c/z.png']);
  assert.deepEqual(ids(await planInputs([join(classes, '[ab]', '*.png')])), ['a/x.png', 'b/y.png']);
  assert.deepEqual(ids(await planInputs([join(classes, '{b,c}', '*.png')])), ['b/y.png', 'c/z.png']);
  // A brace list that spans a slash: its first segment ("{a") is no folder, and the glob starts there.
  await files(classes, ['a/deep/w.png']);
  assert.deepEqual(ids(await planInputs([`${classes}/{a/deep,c}/*.png`])), ['a/deep/w.png', 'c/z.png']);
});

it('a link that leads nowhere in an input folder, or matched by a glob, refuses the input by its name', async () => {
  const folder = join(dir, 'links');
  await files(folder, ['a.png', 'sub/b.png', 'notes/readme.txt']);
  await mkdir(join(dir, 'elsewhere'), { recursive: true });
  await files(join(dir, 'elsewhere'), ['e.png']);
  await symlink(join(dir, 'elsewhere', 'e.png'), join(folder, 'fine.png'));
  // Before any link leads nowhere: the folder and the glob read as they did.
  assert.deepEqual(ids(await planInputs([folder], 'images')), ['a.png', 'fine.png', 'notes/readme.txt', 'sub/b.png']);

  await symlink(join(dir, 'gone.png'), join(folder, 'sub', 'gone.png'));
  await assert.rejects(planInputs([folder], 'images'), refused(/links: a symbolic link that leads to nothing readable: sub\/gone\.png \(ENOENT\); remove it or restore what it leads to$/));
  await assert.rejects(planInputs([join(folder, '**', '*.png')]), refused(/sub\/gone\.png \(ENOENT\)/));
  // A glob that does not match the link is not refused by it; nor is a folder whose link is a dot file.
  assert.deepEqual(ids(await planInputs([join(folder, '**', '*.txt')], 'images')), ['notes/readme.txt']);
  const dotted = join(dir, 'dotted');
  await files(dotted, ['a.png']);
  await symlink(join(dir, 'gone.png'), join(dotted, '.hidden.png'));
  assert.deepEqual(ids(await planInputs([dotted])), ['a.png']);

  // A link that loops, and one reached through a linked folder: each named, by the path it was found at.
  await symlink(join(folder, 'loop.png'), join(folder, 'loop.png'));
  await mkdir(join(dir, 'other'));
  await symlink(join(dir, 'gone-too.png'), join(dir, 'other', 'deep.png'));
  await symlink(join(dir, 'other'), join(folder, 'linked'));
  await assert.rejects(planInputs([folder], 'images'), refused(/links: 3 symbolic links that lead to nothing readable: linked\/deep\.png \(ENOENT\), loop\.png \(ELOOP\), sub\/gone\.png \(ENOENT\); remove them/));

  // Given as the input itself: named as a link, not as a missing path.
  await symlink(join(dir, 'gone.csv'), join(dir, 'rows.csv'));
  await assert.rejects(planInputs([join(dir, 'rows.csv')]), refused(/rows\.csv: a symbolic link that leads to nothing readable$/));
});
