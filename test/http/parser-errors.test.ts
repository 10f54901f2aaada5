/**
 * Errors raised before any route runs — Node's HTTP parser, Fastify's router,
 * the body reader — answer in DRF's shape with a `code`, over a real socket.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { harness, type Harness } from '../support/harness.ts';

/** Sends raw bytes and reads the whole answer (the server closes or the response is complete). */
function raw(port: number, request: string): Promise<{ status: number; headers: string; body: unknown }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error('no answer within 5 s')), 5000);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const length = /content-length: (\d+)/i.exec(head);
      if (length && Buffer.byteLength(body) >= Number(length[1])) socket.end();
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      try {
        resolve({ status: Number(head.split(' ')[1]), headers: head, body: JSON.parse(body) });
      } catch (error) {
        reject(new Error(`not JSON: ${JSON.stringify(text)} (${String(error)})`));
      }
    });
    socket.write(request);
  });
}

describe('parser-level errors in DRF shape', () => {
  let h: Harness;
  let port: number;
  before(async () => {
    h = await harness('pglite');
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    port = (h.app.server.address() as AddressInfo).port;
  });
  after(() => h.close());

  it('headers over the limit: 431 request_header_fields_too_large', async () => {
    const answer = await raw(port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.equal(answer.status, 431);
    assert.deepEqual(answer.body, { detail: 'Request header fields are too large.', code: 'request_header_fields_too_large' });
  });

  it('a malformed request: 400 bad_request', async () => {
    for (const request of ['GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', 'GET / HTTP/1.1\r\nBad Header\r\n\r\n']) {
      const answer = await raw(port, request);
      assert.equal(answer.status, 400, request);
      assert.deepEqual(answer.body, { detail: 'Bad request.', code: 'bad_request' }, request);
    }
  });

  it('a body over BODY_LIMIT: 413 payload_too_large, announced or streamed', async () => {
    const big = 'x'.repeat(70_000);
    const announced = await raw(port, `POST /auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${big.length}\r\nConnection: close\r\n\r\n${big}`);
    assert.equal(announced.status, 413);
    assert.deepEqual(announced.body, { detail: 'Request body is too large.', code: 'payload_too_large' });
    const chunked = await raw(port, `POST /auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`);
    assert.equal(chunked.status, 413);
    assert.deepEqual(chunked.body, { detail: 'Request body is too large.', code: 'payload_too_large' });
  });

  it("the router's own failures: a malformed path is 400, an over-long id 404", async () => {
    const bad = await raw(port, 'GET /admin/users/%zz/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body, { detail: 'Bad request.', code: 'bad_request' });
    const long = await raw(port, `GET /admin/users/${'1'.repeat(300)}/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    assert.equal(long.status, 404);
    assert.deepEqual(long.body, { detail: 'Not found.', code: 'not_found' });
  });

  it('a bad Content-Length or content type: DRF bodies', async () => {
    const json = await raw(port, 'POST /auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nConnection: close\r\n\r\n{"a":');
    assert.equal(json.status, 400);
    assert.equal((json.body as { code: string }).code, 'parse_error');
    const media = await raw(port, 'POST /auth/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: 2\r\nConnection: close\r\n\r\n<a');
    assert.equal(media.status, 415);
    assert.deepEqual(media.body, { detail: 'Unsupported media type "text/xml" in request.', code: 'unsupported_media_type' });
  });
});
