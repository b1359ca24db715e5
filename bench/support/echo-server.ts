// The HTTP ceiling of bench/ingest.ts: a bare Hono app on @hono/node-server, in a process of its own like conveyor's.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const echo = new Hono().post('/', (c) => c.json({ ok: true }));
serve({ fetch: echo.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  process.stdout.write(`listening on http://127.0.0.1:${info.port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
