/**
 * The benchmark's lean HTTP/1.1 client against a real node:http server: Content-Length and chunked
 * answers, answers split over many reads, keep-alive reuse, and a dropped connection.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RawHttpConnection, serializePost } from '../../src/perf/raw-http-client.js';

describe('bench raw HTTP client', () => {
  let server: http.Server;
  let base: string;
  const connections = new Set<string>();

  before(async () => {
    server = http.createServer((req, res) => {
      connections.add(`${req.socket.remotePort}`);
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        if (req.url === '/echo-length') res.writeHead(200, { 'content-length': body.length }).end(body);
        else if (req.url === '/big-chunked') {
          // 3 MB in many chunks, no Content-Length: chunked framing, many reads on the client.
          res.writeHead(200);
          for (let i = 0; i < 48; i++) res.write(Buffer.alloc(65536, i));
          res.end();
        } else if (req.url === '/drop') req.socket.destroy();
        else if (req.url === '/bad-chunk') req.socket.end('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n');
        else res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"no such path"}');
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it('sends the body and reads a Content-Length answer, reusing one connection', async () => {
    const target = new URL(`${base}/echo-length`);
    const connection = new RawHttpConnection(target);
    const body = Buffer.from('{"inputs":[1,2,3]}');
    const request = serializePost(target, { 'content-type': 'application/json' }, body);
    connections.clear();
    for (let i = 0; i < 3; i++) {
      const answer = await connection.send(request);
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, body);
    }
    assert.equal(connections.size, 1, 'keep-alive: every request on the same connection');
    connection.close();
  });

  it('joins a chunked answer of many reads into its body', async () => {
    const target = new URL(`${base}/big-chunked`);
    const connection = new RawHttpConnection(target);
    const answer = await connection.send(serializePost(target, {}, Buffer.alloc(0)));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.length, 48 * 65536);
    for (let i = 0; i < 48; i++) assert.equal(answer.body[i * 65536 + 100], i);
    connection.close();
  });

  it('reports the status and body of an error answer', async () => {
    const target = new URL(`${base}/nope`);
    const connection = new RawHttpConnection(target);
    const answer = await connection.send(serializePost(target, {}, Buffer.from('x')));
    assert.equal(answer.status, 404);
    assert.match(answer.body.toString(), /no such path/);
    connection.close();
  });

  it('rejects a malformed chunked answer instead of looping on it', async () => {
    const target = new URL(`${base}/bad-chunk`);
    const connection = new RawHttpConnection(target);
    await assert.rejects(connection.send(serializePost(target, {}, Buffer.from('x'))), /bad chunk size "zz"/);
    connection.close();
  });

  it('rejects when the server drops the connection, and reconnects for the next request', async () => {
    const drop = new URL(`${base}/drop`);
    const connection = new RawHttpConnection(drop);
    await assert.rejects(connection.send(serializePost(drop, {}, Buffer.from('x'))), /closed|ECONNRESET/);
    const answer = await connection.send(serializePost(new URL(`${base}/echo-length`), {}, Buffer.from('again')));
    assert.equal(answer.status, 200);
    assert.equal(answer.body.toString(), 'again');
    connection.close();
  });
});
