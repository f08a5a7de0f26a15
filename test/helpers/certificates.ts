/**
 * Certificates made at test time with openssl: a CA, server certificates for 127.0.0.1/localhost
 * signed by it (each call a new key and serial, to tell a reload), and a client certificate for
 * mutual TLS. Nothing is checked in: every test run makes its own.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestPki {
  dir: string;
  caFile: string;
  ca: Buffer;
  /** Writes a new server key and certificate to serverCertFile/serverKeyFile; returns the certificate. */
  issueServer(commonName: string): Promise<Buffer>;
  serverCertFile: string;
  serverKeyFile: string;
  clientCert: Buffer;
  clientKey: Buffer;
  cleanup(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir });
}

export async function makePki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'vireo-pki-'));
  await openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=vireo test CA']);
  const issue = async (name: string, commonName: string, extensionsFile: string) => {
    await openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${commonName}`]);
    await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', extensionsFile]);
  };
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  await issue('client', 'vireo test client', 'client.ext');
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    ca: await readFile(join(dir, 'ca.pem')),
    serverCertFile: join(dir, 'server.pem'),
    serverKeyFile: join(dir, 'server.key'),
    async issueServer(commonName: string) {
      await issue('server', commonName, 'server.ext');
      return readFile(join(dir, 'server.pem'));
    },
    clientCert: await readFile(join(dir, 'client.pem')),
    clientKey: await readFile(join(dir, 'client.key')),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
