/** The access guard's decisions without a socket: token, loopback rule, Host, Origin, API keys. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { checkControlExposure } from '../../src/app/startup-checks.js';
import { AccessPolicy, hostName, isLoopbackHost } from '../../src/server/access-policy.js';
import { silentLogger } from '../../src/logging/logger.js';

const code = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as { code: string }).code;
  }
};

it('reads Host headers and recognises loopback names', () => {
  assert.equal(hostName('[::1]:8000'), '::1');
  assert.equal(hostName('LocalHost:80'), 'localhost');
  assert.equal(hostName('::1'), '::1');
  for (const h of ['localhost', '127.0.0.1:8000', '[::1]:1', 'a.localhost', '127.9.9.9']) assert.ok(isLoopbackHost(h), h);
  for (const h of ['evil.example', '0.0.0.0', '10.0.0.1:8000', 'localhost.evil.example', '[fd00::1]:80']) assert.ok(!isLoopbackHost(h), h);
});

it('without a token: loopback peers under a local Host, never cross-site', () => {
  const policy = new AccessPolicy({ controlMode: 'explicit', controlHosts: ['vireo.internal'] });
  const local = { remoteAddress: '127.0.0.1', host: 'localhost:8000' };
  assert.equal(code(() => policy.authorizeControl(local, true)), undefined);
  assert.equal(code(() => policy.authorizeControl({ ...local, host: 'vireo.internal:8000' }, true)), undefined);
  assert.equal(code(() => policy.authorizeControl({ ...local, host: '0.0.0.0:8000' }, true)), undefined);
  assert.equal(code(() => policy.authorizeControl({ ...local, host: 'rebound.example:8000' }, true)), 'VIREO_ERR_PERMISSION_DENIED');
  assert.equal(code(() => policy.authorizeControl({ remoteAddress: '10.1.2.3', host: 'localhost' }, true)), 'VIREO_ERR_PERMISSION_DENIED');
  assert.equal(code(() => policy.authorizeControl({ ...local, origin: 'http://localhost:8000' }, true)), undefined);
  assert.equal(code(() => policy.authorizeControl({ ...local, origin: 'http://evil.example' }, true)), 'VIREO_ERR_PERMISSION_DENIED');
  assert.equal(code(() => new AccessPolicy({ controlMode: 'none' }).authorizeControl(local, true)), 'VIREO_ERR_PERMISSION_DENIED');
  assert.equal(code(() => new AccessPolicy({ controlMode: 'none' }).authorizeControl(local, false)), undefined, 'settings changes exist in every mode');
});

it('with a token: the bearer token from any peer, nothing else', () => {
  const policy = new AccessPolicy({ controlMode: 'poll', controlToken: 'tok', apiKeys: ['key'] });
  assert.equal(code(() => policy.authorizeControl({ remoteAddress: '10.0.0.1', host: 'anything', authorization: 'Bearer tok' }, true)), undefined);
  assert.equal(code(() => policy.authorizeControl({ remoteAddress: '10.0.0.1', authorization: 'bearer   tok' }, true)), undefined, 'the scheme is case-insensitive');
  for (const authorization of [undefined, 'Bearer to', 'Bearer tokk', 'Basic tok', 'tok', 'Bearer key']) {
    assert.equal(code(() => policy.authorizeControl({ remoteAddress: '127.0.0.1', authorization }, true)), 'VIREO_ERR_UNAUTHENTICATED', String(authorization));
  }
  assert.equal(code(() => policy.authorizeInference({ authorization: 'Bearer key' })), undefined);
  assert.equal(code(() => policy.authorizeInference({ authorization: 'Bearer tok' })), undefined, 'the control token also infers');
  assert.equal(code(() => policy.authorizeInference({})), 'VIREO_ERR_UNAUTHENTICATED');
  assert.equal(code(() => new AccessPolicy({}).authorizeInference({})), undefined, 'no keys: inference is open');
});

it('refuses to start a network-reachable control API without a token', () => {
  const base = { modelRepository: '.', httpPort: 0, logger: silentLogger(), autoComplete: true, defaultMaxBatchSize: 4, strictReadiness: true, bodyLimit: 1024 };
  assert.throws(() => checkControlExposure({ ...base, httpAddress: '0.0.0.0', modelControlMode: 'explicit' }), /refusing to start/);
  assert.throws(() => checkControlExposure({ ...base, httpAddress: '127.0.0.1', grpcPort: 0, grpcAddress: '::', modelControlMode: 'poll' }), /address ::/);
  assert.doesNotThrow(() => checkControlExposure({ ...base, httpAddress: '0.0.0.0', modelControlMode: 'explicit', controlToken: 't' }));
  assert.doesNotThrow(() => checkControlExposure({ ...base, httpAddress: '0.0.0.0' }));
  assert.doesNotThrow(() => checkControlExposure({ ...base, httpAddress: '127.0.0.1', modelControlMode: 'explicit' }));
  assert.doesNotThrow(() => checkControlExposure({ ...base, httpAddress: '0.0.0.0', httpPort: -1, modelControlMode: 'explicit' }), 'no listener, nothing exposed');
});
