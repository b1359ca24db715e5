import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../../actors/index.ts';
import { makeWorld, type World } from './harness.ts';

/** A chat webhook on loopback answering with the statuses given, then 200. */
async function receiver(statuses: number[]): Promise<{ url: string; bodies: string[]; server: Server }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      bodies.push(body);
      res.writeHead(statuses.shift() ?? 200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies, server };
}

describe('notification outbox', () => {
  let world: World;
  const servers: Server[] = [];
  afterEach(async () => {
    for (const s of servers.splice(0)) await new Promise((resolve) => s.close(resolve));
    await world?.close();
  });

  function outbox(url: string) {
    const logs: string[] = [];
    const box = new Outbox({ store: world.conveyor.runtime, clock: world.clock, bootId: world.conveyor.runtime.bootId, webhookUrl: url, log: (l) => logs.push(l), baseBackoffMs: 1_000 });
    return { box, logs };
  }

  it('posts { text } to the webhook, retrying with backoff until it is taken', async () => {
    world = await makeWorld();
    const hook = await receiver([500, 502]);
    servers.push(hook.server);
    const { box, logs } = outbox(hook.url);
    box.start();
    await box.notify({ kind: 'test', text: 'task t1: development.gating → review.preparing' });
    const attempts = () => box.pending()[0]?.attempts ?? -1;
    await world.until('the first attempt failed', () => hook.bodies.length === 1 && attempts() === 1);
    await world.advance(999);
    expect(hook.bodies).toHaveLength(1);
    await world.advance(1);
    await world.until('the second attempt failed', () => hook.bodies.length === 2 && attempts() === 2);
    await world.advance(2_000);
    await world.until('the message was taken', () => hook.bodies.length === 3 && box.pending().length === 0);
    expect(hook.bodies.map((b) => JSON.parse(b) as unknown)).toEqual(Array(3).fill({ text: 'task t1: development.gating → review.preparing' }));
    expect(logs.filter((l) => l.startsWith('notify: task t1'))).toHaveLength(1);
    expect(box.stats).toMatchObject({ enqueued: 1, sent: 1, retried: 2, failed: 0 });
    await box.stop();
  });

  it('delivers after a restart what an earlier run could not', async () => {
    world = await makeWorld();
    const down = await receiver([503]);
    const up = await receiver([]);
    servers.push(down.server, up.server);
    const first = outbox(down.url).box;
    first.start();
    await first.notify({ kind: 'test', text: 'supervisor: degraded' });
    await world.until('the first attempt failed', () => first.pending()[0]?.attempts === 1);
    await first.stop();
    const second = outbox(up.url).box;
    second.start();
    await world.advance(1_000);
    await world.until('the message was taken', () => up.bodies.length === 1 && second.pending().length === 0);
    expect(JSON.parse(up.bodies[0]!)).toEqual({ text: 'supervisor: degraded' });
    await second.stop();
  });
});
