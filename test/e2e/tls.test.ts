/**
 * TLS for HTTP and gRPC with certificates made at test time (openssl): HTTPS and gRPC over TLS
 * verified against the test CA, mutual TLS refusing clients without a certificate, and a reload
 * (what SIGHUP calls) serving the new certificate to new connections.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { simpleModel } from '../../tools/modelgen/models.js';
import { makePki, type TestPki } from '../helpers/certificates.js';
import { makeRepository } from '../helpers/repository.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

function get(url: string, options: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ...options, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d) => { body += d; }).on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject).end();
  });
}

/** The CN of the certificate a new TLS connection to `url` is served. */
function servedCommonName(url: string, ca: Buffer): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: hostname, port: Number(port), ca, servername: undefined }, () => {
      const cert = new X509Certificate(socket.getPeerX509Certificate()!.raw);
      socket.destroy();
      resolve(/CN=(.*)/.exec(cert.subject)?.[1] ?? '');
    });
    socket.on('error', reject);
  });
}

function grpcLive(target: string, credentials: grpc.ChannelCredentials): Promise<unknown> {
  const client = new grpc.Client(target, credentials);
  const deadline = Date.now() + 10_000;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest('/inference.GRPCInferenceService/ServerLive', () => Buffer.alloc(0), (b: Buffer) => b, {}, { deadline }, (error, value) => {
      client.close();
      if (error) reject(error);
      else resolve(value);
    });
  });
}

describe('TLS', () => {
  let pki: TestPki;
  let repo: { root: string; cleanup: () => Promise<void> };
  before(async () => {
    pki = await makePki();
    await pki.issueServer('vireo server one');
    repo = await makeRepository({ simple: { versions: { 1: simpleModel() } } });
  });
  after(async () => {
    await repo.cleanup();
    await pki.cleanup();
  });

  it('serves HTTPS and gRPC over TLS, and reloads the certificate for new connections', async () => {
    const server: TestServer = await startTestServer(repo.root, { tls: { certFile: pki.serverCertFile, keyFile: pki.serverKeyFile } });
    try {
      assert.match(server.url, /^https:\/\//);
      const ready = await get(`${server.url}/v2/health/ready`, { ca: pki.ca });
      assert.equal(ready.status, 200);
      assert.equal(await servedCommonName(server.url, pki.ca), 'vireo server one');
      // Plain HTTP to the TLS port gets no answer as HTTP.
      await assert.rejects(fetch(server.url.replace('https:', 'http:') + '/v2/health/ready'));

      await grpcLive(server.grpcTarget, grpc.credentials.createSsl(pki.ca));
      await assert.rejects(grpcLive(server.grpcTarget, grpc.credentials.createInsecure()), (e: grpc.ServiceError) => e.code === grpc.status.UNAVAILABLE);

      await pki.issueServer('vireo server two');
      await server.reloadTls();
      assert.equal(await servedCommonName(server.url, pki.ca), 'vireo server two');
      assert.equal((await get(`${server.url}/v2/health/ready`, { ca: pki.ca })).status, 200);
      await grpcLive(server.grpcTarget, grpc.credentials.createSsl(pki.ca));
    } finally {
      await server.close();
    }
  });

  it('with a client CA, requires a client certificate it signed (mutual TLS) on HTTP and gRPC', async () => {
    const server = await startTestServer(repo.root, { tls: { certFile: pki.serverCertFile, keyFile: pki.serverKeyFile, clientCaFile: pki.caFile } });
    try {
      await assert.rejects(get(`${server.url}/v2/health/ready`, { ca: pki.ca }));
      assert.equal((await get(`${server.url}/v2/health/ready`, { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey })).status, 200);
      await assert.rejects(grpcLive(server.grpcTarget, grpc.credentials.createSsl(pki.ca)));
      await grpcLive(server.grpcTarget, grpc.credentials.createSsl(pki.ca, pki.clientKey, pki.clientCert));
    } finally {
      await server.close();
    }
  });

  it('refuses to start with a key that does not match the certificate, and keeps the old one when a reload fails', async () => {
    await assert.rejects(startTestServer(repo.root, { tls: { certFile: pki.serverCertFile, keyFile: pki.caFile } }), /TLS certificate and key cannot be used|cannot read/);
    const server = await startTestServer(repo.root, { grpcPort: -1, tls: { certFile: pki.serverCertFile, keyFile: pki.serverKeyFile } });
    try {
      const before = await servedCommonName(server.url, pki.ca);
      const { writeFile } = await import('node:fs/promises');
      const original = await (await import('node:fs/promises')).readFile(pki.serverKeyFile);
      await writeFile(pki.serverKeyFile, 'not a key');
      await assert.rejects(server.reloadTls(), /TLS certificate and key cannot be used/);
      await writeFile(pki.serverKeyFile, original);
      assert.equal(await servedCommonName(server.url, pki.ca), before);
    } finally {
      await server.close();
    }
  });
});
