/** Every error code is documented in docs/errors.md with its status and HTTP code (fastify's habit). */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { it } from 'node:test';
import { ERROR_CODES, ERROR_STATUSES, VireoError } from '../../src/core/errors.js';
import { HTTP_STATUS } from '../../src/protocols/http-common/http-errors.js';

it('docs/errors.md lists every code with its status and HTTP code', async () => {
  const doc = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
  for (const [code, status] of Object.entries(ERROR_CODES)) {
    const row = doc.split('\n').find((line) => line.startsWith(`| \`${code}\``));
    assert.ok(row, `${code} is missing from docs/errors.md`);
    assert.ok(row.includes(`| ${status} |`), `${code}: documented status differs from ${status}`);
    assert.ok(row.includes(`| ${HTTP_STATUS[status]} |`), `${code}: documented HTTP code differs from ${HTTP_STATUS[status]}`);
  }
});

it('every status has an HTTP mapping and errors survive a thread boundary by code', () => {
  for (const status of ERROR_STATUSES) assert.equal(typeof HTTP_STATUS[status], 'number');
  const original = new VireoError('VIREO_ERR_QUEUE_FULL', 'full');
  const copy = VireoError.from(structuredClone(original.toJSON()));
  assert.equal(copy.code, 'VIREO_ERR_QUEUE_FULL');
  assert.equal(copy.status, 'UNAVAILABLE');
  assert.equal(VireoError.from({ code: 'bogus', message: 'x' }).code, 'VIREO_ERR_INTERNAL');
});
