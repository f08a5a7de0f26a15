/** Triton's trace settings: per-model fallback to the global values, sampling by rate, count and the caller's flag. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TraceSettings } from '../../src/tracing/trace-settings.js';

it('a model follows global values it has not set, also when they change later', () => {
  const s = new TraceSettings({ level: 'OFF', rate: 1000, count: -1 });
  assert.equal(s.anyOn, false);
  s.update({ trace_rate: '10' }, 'a');
  assert.deepEqual(s.get('a').trace_level, ['OFF']);
  s.update({ trace_level: ['TIMESTAMPS'] });
  assert.deepEqual(s.get('a'), { trace_level: ['TIMESTAMPS'], trace_rate: '10', trace_count: '-1', log_frequency: '0', trace_file: '', trace_mode: 'opentelemetry' });
  assert.equal(s.get('b').trace_rate, '1000');
  s.update({ trace_rate: null }, 'a');
  assert.equal(s.get('a').trace_rate, '1000');
  s.update({ trace_level: null });
  assert.deepEqual(s.get().trace_level, ['OFF'], 'null on a global setting restores its start-up value');
  assert.equal(s.anyOn, false);
});

it('samples one in trace_rate, the first included, until trace_count runs out', () => {
  const s = new TraceSettings({ level: 'TIMESTAMPS', rate: 3, count: 3 });
  const picks = Array.from({ length: 12 }, () => s.sample('m', undefined));
  assert.deepEqual(picks.map((p, i) => (p ? i : -1)).filter((i) => i >= 0), [0, 3, 6]);
  assert.equal(s.get().trace_count, '0');
});

it('follows the caller\'s sampled flag and a model\'s own OFF', () => {
  const s = new TraceSettings({ level: 'TIMESTAMPS', rate: 1000, count: -1 });
  assert.equal(s.sample('m', true), true);
  assert.equal(s.sample('m', false), false);
  s.update({ trace_level: ['OFF'] }, 'quiet');
  assert.equal(s.sample('quiet', true), false);
  assert.equal(s.anyOn, true);
});

it('refuses what Vireo cannot do, naming the setting', () => {
  const s = new TraceSettings({ level: 'OFF', rate: 1000, count: -1 });
  assert.throws(() => s.update({ trace_level: ['TIMESTAMPS', 'TENSORS'] }), /TENSORS is not supported/);
  assert.throws(() => s.update({ trace_file: 'out.json' }), /trace_file/);
  assert.throws(() => s.update({ trace_rate: '1.5' }), /trace_rate/);
  assert.throws(() => s.update({ trace_count: '-5' }), /trace_count/);
  assert.throws(() => s.update({ trace_count: '99999999999999999999' }), /trace_count/);
  assert.throws(() => s.update({ trace_rate: String(2 ** 31) }), /trace_rate/);
  assert.doesNotThrow(() => s.update({ trace_file: '', log_frequency: '0', trace_mode: 'opentelemetry' }));
});
