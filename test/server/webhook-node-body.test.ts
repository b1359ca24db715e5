import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { githubDelivery, makeTestApp, planeDelivery, type Delivery, type TestApp } from '../support/http-fixtures.ts';

// Webhooks read their bytes from node's request under @hono/node-server; these go through a real port on loopback.

let t: TestApp;
let server: ServerType | undefined;
afterEach(async () => {
  if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
  server = undefined;
  await t.close();
});

async function listen(app: TestApp['app']): Promise<number> {
  return new Promise((resolve) => {
    server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info: AddressInfo) => resolve(info.port));
  });
}

/** Posts a delivery; `chunked` sends the body in pieces with no content-length, as a streaming sender does. */
function post(port: number, d: Delivery, chunked = false): Promise<{ status: number; body: { outcome?: { status: string }; error?: { code: string; message: string } } }> {
  return new Promise((resolve, reject) => {
    const headers = chunked ? { ...d.headers, 'transfer-encoding': 'chunked' } : { ...d.headers, 'content-length': String(Buffer.byteLength(d.body)) };
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: d.path, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) as never }));
    });
    req.on('error', reject);
    if (chunked) {
      const half = Math.floor(d.body.length / 2);
      req.write(d.body.slice(0, half));
      setTimeout(() => req.end(d.body.slice(half)), 10);
    } else req.end(d.body);
  });
}

const status = (body: Record<string, unknown> = {}) =>
  githubDelivery('status', { sha: 'a'.repeat(40), state: 'success', context: 'ci', repository: { full_name: 'acme/shop' }, ...body });

describe('webhook bodies read from the node request', () => {
  it('verifies and takes a signed delivery sent whole or in chunks', async () => {
    t = await makeTestApp();
    const port = await listen(t.app);
    expect(await post(port, status({ description: 'whole' }))).toMatchObject({ status: 202, body: { outcome: { status: 'unrouted' } } });
    expect(await post(port, status({ description: 'chunked' }), true)).toMatchObject({ status: 202, body: { outcome: { status: 'unrouted' } } });
    const tampered = status({ description: 'signed' });
    tampered.body = tampered.body.replace('signed', 'forged');
    expect((await post(port, tampered)).status).toBe(401);
  });

  it('refuses a body over the limit with 413, whether it names its length or streams it', async () => {
    t = await makeTestApp({ maxBodyBytes: 300 });
    const port = await listen(t.app);
    const big = status({ description: 'x'.repeat(400) });
    for (const chunked of [false, true]) {
      const answer = await post(port, big, chunked);
      expect(answer.status).toBe(413);
      expect(answer.body.error).toMatchObject({ code: 'payload_too_large', message: 'request body is larger than 300 bytes' });
    }
    const tracker = planeDelivery({ event: 'issue', action: 'updated', data: { id: 'x'.repeat(400) } });
    expect((await post(port, tracker, true)).status).toBe(413);
  });
});

describe('request headers read from the node request', () => {
  it('are what the web Request gives: names lowercased, a repeated header joined, one asked for by any case', async () => {
    const { Hono } = await import('hono');
    const { requestHeader, requestHeaders } = await import('../../server/node-request.ts');
    const app = new Hono().get('/h', (c) => c.json({ all: requestHeaders(c), one: requestHeader(c, 'X-Multi'), absent: requestHeader(c, 'x-absent') ?? null }));
    t = await makeTestApp();
    const port = await listen(app as never);
    const overSocket = await new Promise<unknown>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/h', headers: ['Host', `127.0.0.1:${port}`, 'X-Multi', 'a', 'x-multi', 'b', 'X-Hub-Signature-256', 'sha256=00', 'Connection', 'close'] }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve(JSON.parse(text)));
      });
      req.on('error', reject);
      req.end();
    });
    const headers = new Headers([['X-Multi', 'a'], ['x-multi', 'b'], ['X-Hub-Signature-256', 'sha256=00'], ['Connection', 'close'], ['Host', `127.0.0.1:${port}`]]);
    const viaWeb = await (await app.request('/h', { headers })).json();
    expect(overSocket).toEqual(viaWeb);
    expect(overSocket).toMatchObject({ all: { 'x-multi': 'a, b', 'x-hub-signature-256': 'sha256=00' }, one: 'a, b', absent: null });
  });
});
