import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { LiveEvents, TICKET_COOKIE, TICKET_TTL_MS } from '../../server/events/index.ts';
import { API_TOKEN, FORGE_SECRET, REPO, TRACKER_SECRET, apiCaller, expectError, makeTestApp, waitForState, type TestApp } from '../support/http-fixtures.ts';
import { SseReader, type SseMessage } from '../support/sse-reader.ts';

let t: TestApp;
let live: LiveEvents;
let clock: number;
let app: ReturnType<typeof createApp>;
let api: ReturnType<typeof apiCaller>;

beforeEach(async () => {
  t = await makeTestApp();
  live = new LiveEvents(t.conveyor);
  clock = Date.now();
  app = createApp({
    conveyor: t.conveyor, apiToken: API_TOKEN, trackerSecret: TRACKER_SECRET, forgeSecret: FORGE_SECRET,
    tracker: defaultTrackerRouting, live, now: () => clock,
  });
  api = apiCaller(app);
});
afterEach(async () => {
  live.close();
  await t.close();
});

const bearer = { authorization: `Bearer ${API_TOKEN}` };
const data = (m: SseMessage) => m.data as Record<string, unknown>;

async function openStream(headers: Record<string, string> = bearer): Promise<SseReader> {
  const res = await app.request('/api/events/stream', { headers });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/event-stream');
  const reader = new SseReader(res.body);
  const ready = await reader.next();
  expect(ready?.event).toBe('ready');
  expect(data(ready!).bootId).toBe(t.conveyor.runtime.bootId);
  return reader;
}

async function ticketCookie(): Promise<{ cookie: string; header: string }> {
  const res = await api('POST', '/events/ticket');
  expect(res.status).toBe(200);
  const header = res.headers.get('set-cookie') ?? '';
  const value = new RegExp(`${TICKET_COOKIE}=([^;]+)`).exec(header)?.[1] ?? '';
  return { cookie: `${TICKET_COOKIE}=${value}`, header };
}

describe('the event stream', () => {
  it('refuses a request without the token or a ticket, and one with a wrong token, with 401', async () => {
    await expectError(await app.request('/api/events/stream'), 401, 'unauthorized');
    await expectError(await app.request('/api/events/stream', { headers: { authorization: 'Bearer nope' } }), 401, 'unauthorized');
    await expectError(await app.request('/api/events/stream', { headers: { cookie: `${TICKET_COOKIE}=made-up` } }), 401, 'unauthorized');
  });

  it('streams a created task moving to its gate, the decision it opens, and the answer to it', async () => {
    const stream = await openStream();
    const created = await api('POST', '/tasks', { repo: REPO, title: 'Add search' });
    const taskId = ((await created.json()) as { task: { id: string } }).task.id;

    const first = await stream.until('of the task being created', (m) => m.event === 'transition' && data(m).taskId === taskId);
    expect(data(first)).toMatchObject({ event: 'task.created', accepted: true, source: 'operator', from: '' });
    expect(data(first).task).toMatchObject({ id: taskId, title: 'Add search', repo: REPO });
    const gate = await stream.until('of the task reaching its gate', (m) => m.event === 'transition' && data(m).to === 'analysis.gating');
    expect(data(gate).task).toMatchObject({ state: 'analysis.gating', stage: 'analysis' });
    const opened = await stream.until('of a decision', (m) => m.event === 'decision');
    expect(data(opened)).toMatchObject({ taskId, status: 'pending', options: ['Approve', 'Reject'] });

    expect((await api('POST', `/decisions/${String(data(opened).id)}/resolve`, { option: 'Approve', by: 'pat' })).status).toBe(200);
    const answered = await stream.until('of the answered decision', (m) => m.event === 'decision' && data(m).status === 'resolved');
    expect(data(answered)).toMatchObject({ id: data(opened).id, resolution: 'Approve', by: 'pat' });
    // The answer and the transition it causes are one commit: the history entry comes first.
    const left = stream.seen.find((m) => m.event === 'transition' && data(m).from === 'analysis.gating' && data(m).accepted === true);
    expect(data(left!)).toMatchObject({ taskId, event: 'decision.resolved', source: 'decision' });
    expect(Number(left!.id)).toBe(Number(answered.id) - 1);
    // Every message has a distinct, increasing id.
    const ids = stream.seen.map((m) => Number(m.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).toBe(ids.length);
    await stream.cancel();
  });

  it('streams an event a task refuses, with the reason', async () => {
    const created = await api('POST', '/tasks', { repo: REPO, title: 'Add search' });
    const taskId = ((await created.json()) as { task: { id: string } }).task.id;
    await waitForState(t.conveyor, taskId, 'analysis.gating');
    const stream = await openStream();
    expect((await api('POST', `/tasks/${taskId}/events`, { type: 'resume' })).status).toBe(409);
    const refused = await stream.until('of the refusal', (m) => m.event === 'transition');
    expect(data(refused)).toMatchObject({ taskId, event: 'task.resume', accepted: false });
    expect(String(data(refused).reason).length).toBeGreaterThan(0);
    await stream.cancel();
  });

  it('streams an alert as the alerts API shows it, without the webhook payload it keeps, and its acknowledgement', async () => {
    const stream = await openStream();
    await t.conveyor.recordUnrouted('delivery-1', { payload: 'x'.repeat(100) }, 'no task has branch feature/x');
    const raised = await stream.until('of the alert', (m) => m.event === 'alert');
    const listed = ((await (await api('GET', '/alerts')).json()) as { alerts: Record<string, unknown>[] }).alerts[0]!;
    expect(data(raised)).toEqual({ ...listed, details: { reason: 'no task has branch feature/x' } });
    expect(data(raised)).toMatchObject({ id: 'delivery-1', kind: 'unrouted_event', status: 'open' });
    expect(String(data(raised).suggestedAction).length).toBeGreaterThan(0);

    expect((await api('POST', '/alerts/delivery-1/ack', { by: 'pat' })).status).toBe(200);
    const acked = await stream.until('of the acknowledgement', (m) => m.event === 'alert' && data(m).status === 'acknowledged');
    expect(data(acked).acknowledged).toMatchObject({ by: 'pat' });
    await stream.cancel();
  });

  it('trades the token for a ticket in an HttpOnly cookie scoped to the stream, which opens it', async () => {
    const { cookie, header } = await ticketCookie();
    expect(header).toMatch(/HttpOnly/i);
    expect(header).toMatch(/SameSite=Strict/i);
    expect(header).toMatch(/Path=\/api\/events/);
    expect(header).toContain(`Max-Age=${TICKET_TTL_MS / 1000}`);
    const stream = await openStream({ cookie });
    await stream.cancel();
    // The ticket opens the stream and nothing else.
    await expectError(await app.request('/api/tasks', { headers: { cookie } }), 401, 'unauthorized');
  });

  it('refuses a ticket once it has expired or been revoked', async () => {
    const expiring = await ticketCookie();
    clock += TICKET_TTL_MS + 1;
    await expectError(await app.request('/api/events/stream', { headers: { cookie: expiring.cookie } }), 401, 'unauthorized');

    const revoked = await ticketCookie();
    const res = await app.request('/api/events/ticket', { method: 'DELETE', headers: { ...bearer, cookie: revoked.cookie } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ revoked: true });
    expect(res.headers.get('set-cookie')).toMatch(new RegExp(`${TICKET_COOKIE}=;.*Max-Age=0`));
    await expectError(await app.request('/api/events/stream', { headers: { cookie: revoked.cookie } }), 401, 'unauthorized');
  });

  it('refuses to hand out a ticket without the token', async () => {
    await expectError(await api('POST', '/events/ticket', undefined, ''), 401, 'unauthorized');
  });

  it('ends every open stream at close, so the HTTP server can close with a client connected', async () => {
    let server: ServerType | undefined;
    const port = await new Promise<number>((resolve) => {
      server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve(info.port));
    });
    const res = await fetch(`http://127.0.0.1:${port}/api/events/stream`, { headers: bearer });
    const stream = new SseReader(res.body);
    expect((await stream.next())?.event).toBe('ready');
    expect(live.size).toBe(1);

    // What server/main.ts does at shutdown: end the streams, stop listening, close what is left.
    const started = Date.now();
    live.close();
    const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
    expect(await stream.ended()).toBe(true);
    if (server && 'closeAllConnections' in server) server.closeAllConnections();
    await closed;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(live.size).toBe(0);
  });

  it('forgets a client that goes away', async () => {
    const stream = await openStream();
    expect(live.size).toBe(1);
    await stream.cancel();
    expect(live.size).toBe(0);
  });
});
