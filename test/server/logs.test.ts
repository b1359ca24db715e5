import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { lineLog } from '../../server/line-log.ts';
import { createLogger, logFormat, type LogFormat } from '../../server/logger.ts';
import { followTransitions } from '../../server/task-log.ts';
import { API_TOKEN, FORGE_SECRET, makeTestApp, TRACKER_SECRET, type TestApp } from '../support/http-fixtures.ts';

/** A logger writing into memory, with the lines it wrote. */
function capture(format: LogFormat, opts: { secrets?: string[]; level?: string } = {}) {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ format, destination, colorize: false, ...opts });
  const text = () => chunks.join('');
  const records = () => text().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  return { logger, text, records };
}

let app: TestApp | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

async function appWith(format: LogFormat, opts: { level?: string } = {}) {
  app = await makeTestApp();
  const out = capture(format, { secrets: [API_TOKEN, TRACKER_SECRET], ...opts });
  const http = createApp({ conveyor: app.conveyor, apiToken: API_TOKEN, trackerSecret: TRACKER_SECRET, forgeSecret: FORGE_SECRET, tracker: defaultTrackerRouting, logger: out.logger });
  return { http, conveyor: app.conveyor, ...out };
}

describe('logs', () => {
  it('writes one JSON access line per request, with the request id it was given and echoes', async () => {
    const { http, records } = await appWith('json');
    const res = await http.request('/api/tasks', { headers: { authorization: `Bearer ${API_TOKEN}`, 'x-request-id': 'req-42' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('req-42');
    const refused = await http.request('/api/tasks', { headers: { 'x-request-id': 'req-43' } });
    expect(refused.status).toBe(401);
    expect(refused.headers.get('x-request-id')).toBe('req-43');

    const access = records().filter((r) => r.name === 'http');
    expect(access).toHaveLength(2);
    expect(access[0]).toMatchObject({ level: 30, reqId: 'req-42', method: 'GET', path: '/api/tasks', status: 200 });
    expect(access[1]).toMatchObject({ level: 40, reqId: 'req-43', status: 401 });
    expect(typeof access[0]!.ms).toBe('number');
  });

  it('echoes the request id over a real socket too: JSON, a body with its own headers, a refusal and a route not found', async () => {
    const { http } = await appWith('json');
    const server = await new Promise<ServerType>((resolve) => {
      const s = serve({ fetch: http.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
    });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const listed = await fetch(`${base}/api/tasks`, { headers: { authorization: `Bearer ${API_TOKEN}`, 'x-request-id': 'req-51' } });
      expect([listed.status, listed.headers.get('x-request-id')]).toEqual([200, 'req-51']);
      const chart = await fetch(`${base}/api/machines/task/chart.svg`, { headers: { authorization: `Bearer ${API_TOKEN}`, 'x-request-id': 'req-52' } });
      expect([chart.status, chart.headers.get('x-request-id'), chart.headers.get('content-type')]).toEqual([200, 'req-52', 'image/svg+xml; charset=utf-8']);
      const missing = await fetch(`${base}/nowhere`, { headers: { 'x-request-id': 'req-54' } });
      expect([missing.status, missing.headers.get('x-request-id')]).toEqual([404, 'req-54']);
      const refused = await fetch(`${base}/api/tasks`, { headers: { 'x-request-id': 'req-53' } });
      expect([refused.status, refused.headers.get('x-request-id')]).toEqual([401, 'req-53']);
      await Promise.all([listed, chart, refused, missing].map((res) => res.text()));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('cuts a secret out of an access line, in the path it was sent to', async () => {
    const { http, text } = await appWith('json');
    const res = await http.request(`/nowhere/${API_TOKEN}`);
    expect(res.status).toBe(404);
    expect(text()).toContain('/nowhere/[redacted]');
    expect(text()).not.toContain(API_TOKEN);
  });

  it('makes up a request id when none, or an unusable one, comes in', async () => {
    const { http, records } = await appWith('json');
    const plain = await http.request('/health');
    const made = plain.headers.get('x-request-id') ?? '';
    expect(made).toMatch(/^[0-9a-f-]{36}$/);
    const odd = await http.request('/health', { headers: { 'x-request-id': 'two words\u0007' } });
    expect(odd.headers.get('x-request-id')).not.toContain(' ');
    expect(records().map((r) => r.reqId)).toEqual([made, odd.headers.get('x-request-id')]);
  });

  it('never writes a secret, by field name or inside a message', async () => {
    const { logger, text } = capture('json', { secrets: [API_TOKEN, TRACKER_SECRET] });
    const log = lineLog(logger);
    log(`conveyor: called back with Bearer ${API_TOKEN} and ${TRACKER_SECRET}`, { level: 'warn' });
    logger.info({ headers: { authorization: 'Bearer abc' }, job: { token: 'job-token-1' } }, 'structured');
    const out = text();
    expect(out).not.toContain(API_TOKEN);
    expect(out).not.toContain(TRACKER_SECRET);
    expect(out).not.toContain('Bearer abc');
    expect(out).not.toContain('job-token-1');
    expect(out).toContain('[redacted]');
  });

  it('names the part a line comes from and carries its level', () => {
    const { logger, records } = capture('json');
    lineLog(logger)('reaper: job j1 reaped (tier 1)', { level: 'warn', taskId: 't1', stage: 'development', jobId: 'j1' });
    expect(records()[0]).toMatchObject({ level: 40, name: 'reaper', msg: 'job j1 reaped (tier 1)', taskId: 't1', stage: 'development', jobId: 'j1' });
  });

  it('puts the task id and stage on every task line', async () => {
    const { http, conveyor, logger, records } = await appWith('json');
    followTransitions(conveyor, logger.child({ name: 'task' }), { stageChanges: 'info' });
    const res = await http.request('/api/tasks', {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ repo: 'acme/shop', title: 'Log me' }),
    });
    const { task } = (await res.json()) as { task: { id: string } };
    await http.request(`/api/tasks/${task.id}/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'hold' }),
    });
    const taskLines = records().filter((r) => r.name === 'task');
    expect(taskLines.length).toBeGreaterThanOrEqual(2);
    for (const line of taskLines) expect(line).toMatchObject({ taskId: task.id, stage: expect.any(String) });
    expect(taskLines.at(-1)).toMatchObject({ stage: 'onHold', event: 'task.hold', source: 'operator' });
  });

  it('writes readable lines, not JSON, in the readable format', async () => {
    const { http, text } = await appWith('pretty');
    await http.request('/health', { headers: { 'x-request-id': 'r-1' } });
    const line = text().trim();
    expect(line).toMatch(/INFO.*http: GET \/health 200 [\d.]+ ms/);
    expect(line.startsWith('{')).toBe(false);
  });

  it('chooses JSON unless stdout is a terminal, and the environment may say otherwise', () => {
    expect(logFormat({}, false)).toBe('json');
    expect(logFormat({}, true)).toBe('pretty');
    expect(logFormat({ CONVEYOR_LOG_FORMAT: 'json' }, true)).toBe('json');
    expect(logFormat({ CONVEYOR_LOG_FORMAT: 'pretty' }, false)).toBe('pretty');
  });
});
