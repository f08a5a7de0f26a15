/** gRPC peer strings to bare addresses, and which of them the control API takes as loopback. */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { peerAddress } from '../../src/protocols/oip-grpc/grpc-peer.js';
import { isLoopbackAddress } from '../../src/server/control-access.js';

it('cuts the port off every peer spelling grpc-js and gRPC core use', () => {
  const cases: [string, string | undefined][] = [
    ['127.0.0.1:5000', '127.0.0.1'],
    ['::1:5000', '::1'], // grpc-js: unbracketed, and itself a valid IPv6 address
    ['::ffff:192.0.2.2:5000', '::ffff:192.0.2.2'],
    ['fd00::2:41000', 'fd00::2'],
    ['[::1]:5000', '::1'],
    ['ipv4:10.0.0.1:5000', '10.0.0.1'],
    ['ipv6:[::1]:5000', '::1'],
    ['unknown', undefined],
    ['unix:/tmp/socket', undefined],
  ];
  for (const [peer, address] of cases) assert.equal(peerAddress(peer), address, peer);
});

it('only loopback peers pass the loopback check once their port is cut', () => {
  for (const peer of ['127.0.0.1:5000', '127.9.9.9:1', '::1:5000', '::ffff:127.0.0.1:5000', '[::1]:5000']) assert.equal(isLoopbackAddress(peerAddress(peer)), true, peer);
  // '::1' with a port cut must not become a loopback: fd00::1 (port 1) is an outside host.
  for (const peer of ['192.0.2.2:5000', 'fd00::1:5000', '::2:5000', '::ffff:10.0.0.1:5000', 'unknown', '1:5000']) assert.equal(isLoopbackAddress(peerAddress(peer)), false, peer);
});
