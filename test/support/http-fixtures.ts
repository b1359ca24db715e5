import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'vitest';
import { Conveyor, type TaskView } from '../../actors/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { signGithub, signHex, signStandardWebhook } from '../../server/webhooks/signatures.ts';
import type { IntakeRepository } from '../../server/webhooks/index.ts';
import { EmbeddedStore, StoreWriteError, type Store, type TaskFold } from '../../store/index.ts';

export const API_TOKEN = 'test-api-token';
export const TRACKER_SECRET = 'tracker-secret';
export const FORGE_SECRET = 'forge-secret';
export const REPO = 'acme/shop';

/** A signed webhook request, ready to send. */
export interface Delivery {
  path: '/webhooks/tracker' | '/webhooks/forge';
  body: string;
  headers: Record<string, string>;
}

/** A conveyor on a real embedded store in a temp dir, with its HTTP app. */
export interface TestApp {
  app: ReturnType<typeof createApp>;
  conveyor: Conveyor;
  /** The embedded store itself, even when the conveyor was given a wrapper. */
  store: EmbeddedStore;
  dir: string;
  deliver(delivery: Delivery): Promise<Response>;
  /** A call to /api with the right bearer token unless `token` says otherwise ('' sends none). */
  api(method: string, path: string, body?: unknown, token?: string): Promise<Response>;
  close(): Promise<void>;
}

/** Starts a conveyor on a fresh store in a temp dir and builds its app. */
export async function makeTestApp(opts: { wrapStore?: (store: Store) => Store; maxBodyBytes?: number; now?: () => number; repositories?: IntakeRepository[] } = {}): Promise<TestApp> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-http-'));
  const store = new EmbeddedStore({ dir });
  const conveyor = new Conveyor({ store: opts.wrapStore ? opts.wrapStore(store) : store });
  await conveyor.start();
  const app = createApp({
    conveyor, apiToken: API_TOKEN, trackerSecret: TRACKER_SECRET, forgeSecret: FORGE_SECRET,
    tracker: defaultTrackerRouting, maxBodyBytes: opts.maxBodyBytes, now: opts.now, repositories: opts.repositories,
  });
  const deliver = async (d: Delivery) => app.request(d.path, { method: 'POST', headers: d.headers, body: d.body });
  const api = apiCaller(app);
  const close = async () => {
    await conveyor.stop();
    await rm(dir, { recursive: true, force: true });
  };
  return { app, conveyor, store, dir, deliver, api, close };
}

let deliverySeq = 0;
const nextId = (prefix: string) => `${prefix}-${++deliverySeq}`;
const raw = (payload: unknown) => (typeof payload === 'string' ? payload : JSON.stringify(payload));

/** A Plane delivery signed with X-Plane-Signature; each call has a new X-Plane-Delivery, as Plane's retries do. */
export function planeDelivery(payload: unknown, opts: { event?: string; secret?: string; deliveryId?: string } = {}): Delivery {
  const body = raw(payload);
  return {
    path: '/webhooks/tracker',
    body,
    headers: {
      'content-type': 'application/json',
      'x-plane-event': opts.event ?? 'issue',
      'x-plane-delivery': opts.deliveryId ?? nextId('plane'),
      'x-plane-signature': signHex(opts.secret ?? TRACKER_SECRET, body),
    },
  };
}

/** A Gitea delivery with the headers Gitea sends (its own and the GitHub-compatible ones). */
export function giteaDelivery(event: string, payload: unknown, opts: { secret?: string; deliveryId?: string } = {}): Delivery {
  const body = raw(payload);
  const id = opts.deliveryId ?? nextId('gitea');
  const secret = opts.secret ?? FORGE_SECRET;
  return {
    path: '/webhooks/forge',
    body,
    headers: {
      'content-type': 'application/json',
      'x-gitea-event': event, 'x-gitea-delivery': id, 'x-gitea-signature': signHex(secret, body),
      'x-github-event': event, 'x-github-delivery': id, 'x-hub-signature-256': signGithub(secret, body),
    },
  };
}

/** A GitHub delivery signed with X-Hub-Signature-256. */
export function githubDelivery(event: string, payload: unknown, opts: { secret?: string; deliveryId?: string } = {}): Delivery {
  const body = raw(payload);
  return {
    path: '/webhooks/forge',
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': opts.deliveryId ?? nextId('github'),
      'x-hub-signature-256': signGithub(opts.secret ?? FORGE_SECRET, body),
    },
  };
}

/** A Standard Webhooks delivery: the event in the body's envelope, signed over `id.timestamp.body`. */
export function standardDelivery(
  type: string,
  data: unknown,
  opts: { secret?: string; id?: string; timestampSec?: number; rawBody?: string } = {},
): Delivery {
  const body = opts.rawBody ?? JSON.stringify({ type, timestamp: new Date().toISOString(), data });
  const id = opts.id ?? nextId('msg');
  const ts = opts.timestampSec ?? Math.floor(Date.now() / 1000);
  return {
    path: '/webhooks/forge',
    body,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(ts),
      'webhook-signature': signStandardWebhook(opts.secret ?? FORGE_SECRET, id, ts, body),
    },
  };
}

let updateSeq = 0;

/** A Plane "issue updated" body moving an issue to a state; each call is a new change unless `updatedAt` is given. */
export function planeIssue(issueId: string, stateId: string, opts: { updatedAt?: string; repo?: string; title?: string } = {}) {
  const state = defaultTrackerRouting.states[stateId];
  return {
    event: 'issue',
    action: 'updated',
    webhook_id: 'wh-1',
    workspace_id: 'ws-1',
    data: {
      id: issueId,
      name: opts.title ?? `Issue ${issueId}`,
      project: 'proj-1',
      state: { id: stateId, name: state?.name ?? stateId, group: state?.group ?? 'started' },
      updated_at: opts.updatedAt ?? new Date(Date.UTC(2025, 0, 1) + ++updateSeq * 1000).toISOString(),
      repo: opts.repo ?? REPO,
    },
    activity: { field: 'state', actor: { display_name: 'pat' } },
  };
}

const repository = (repo: string) => ({ id: 1, full_name: repo, private: true });

/** A pull_request body (Gitea and GitHub share this shape). */
export function pullRequest(action: string, branch: string, sha: string, opts: { number?: number; repo?: string } = {}) {
  const number = opts.number ?? 1;
  return {
    action, number, repository: repository(opts.repo ?? REPO), sender: { login: 'dev' },
    pull_request: { number, html_url: `https://forge.test/${opts.repo ?? REPO}/pulls/${number}`, head: { ref: branch, sha }, merged: false },
  };
}

/** A commit status body; `branches` as GitHub lists them. */
export function commitStatus(sha: string, state: string, opts: { context?: string; branches?: string[]; repo?: string } = {}) {
  return {
    sha, state, context: opts.context ?? 'ci/build', target_url: `https://ci.test/${sha.slice(0, 7)}`, description: state,
    repository: repository(opts.repo ?? REPO), branches: (opts.branches ?? []).map((name) => ({ name, commit: { sha } })),
  };
}

/** A GitHub pull_request_review body for a submitted review of `sha`. */
export function prReview(state: 'approved' | 'changes_requested', branch: string, sha: string, opts: { number?: number; repo?: string } = {}) {
  const number = opts.number ?? 1;
  return {
    action: 'submitted', repository: repository(opts.repo ?? REPO),
    review: { id: 3, state, body: state === 'approved' ? 'looks good' : 'add a test', commit_id: sha, user: { login: 'rita' } },
    pull_request: { number, head: { ref: branch, sha } },
  };
}

/** Asserts the one error shape conveyor answers with, and its status. */
export async function expectError(res: Response, status: number, code: string, field?: string): Promise<{ code: string; message: string; field?: string }> {
  const body = (await res.json()) as { error: { code: string; message: string; field?: string } };
  expect({ status: res.status, code: body.error?.code }).toEqual({ status, code });
  expect(typeof body.error.message).toBe('string');
  expect(body.error.message.length).toBeGreaterThan(0);
  if (field !== undefined) expect(body.error.field).toBe(field);
  return body.error;
}

/**
 * Waits until a task is in `expected` (a state path or a test on its view). The runtime reports the
 * outcomes of its own work asynchronously, so tests wait for them rather than sleep.
 */
export async function waitForState(conveyor: Conveyor, taskId: string, expected: string | ((view: TaskView) => boolean), timeoutMs = 5000): Promise<TaskView> {
  const matches = typeof expected === 'string' ? (v: TaskView) => v.state === expected : expected;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const view = conveyor.task(taskId);
    if (view && matches(view)) return view;
    if (Date.now() > deadline) {
      const recent = conveyor.history(taskId).slice(-5).map((h) => `${h.event.type} ${h.accepted ? '→' : 'ignored:'} ${h.accepted ? h.to : h.reason}`);
      throw new Error(`fixtures: task ${taskId} is in ${view?.state ?? '(missing)'}, not ${String(expected)}; last events: ${recent.join('; ')}`);
    }
    await delay(5);
  }
}

/** Waits until a task rests where only the outside world moves it: a gate, on hold, escalated or finished. */
export function waitForSettled(conveyor: Conveyor, taskId: string, timeoutMs = 5000): Promise<TaskView> {
  const resting = ['gating', 'on-hold', 'escalated', 'terminal'];
  return waitForState(conveyor, taskId, (v) => v.tags.some((t) => resting.includes(t)), timeoutMs);
}

/** A Store that passes everything to another one, except that commits fail with StoreWriteError while `failing` is set. */
export class FailingStore implements Store {
  failing = false;
  failedCommits = 0;

  constructor(private readonly inner: Store) {}

  load(fold?: TaskFold) { return this.inner.load(fold); }
  commit(records: Parameters<Store['commit']>[0]) {
    if (!this.failing) return this.inner.commit(records);
    this.failedCommits++;
    return Promise.reject(new StoreWriteError('journal.jsonl', new Error('ENOSPC: no space left on device')));
  }
  getTask(id: string) { return this.inner.getTask(id); }
  listTasks() { return this.inner.listTasks(); }
  taskCount() { return this.inner.taskCount(); }
  getHistory(taskId: string) { return this.inner.getHistory(taskId); }
  historySummary(taskId: string) { return this.inner.historySummary(taskId); }
  hasDelivery(key: string) { return this.inner.hasDelivery(key); }
  hasDeliveryBefore(at: number) { return this.inner.hasDeliveryBefore(at); }
  taskForIssue(issueId: string) { return this.inner.taskForIssue(issueId); }
  get<T>(collection: Parameters<Store['get']>[0], id: string) { return this.inner.get<T>(collection, id); }
  list<T>(collection: Parameters<Store['list']>[0]) { return this.inner.list<T>(collection); }
  entries<T>(collection: Parameters<Store['entries']>[0]) { return this.inner.entries<T>(collection); }
  stats() { return this.inner.stats(); }
  close() { return this.inner.close(); }
}

/** Calls the app's /api in-process with the bearer token (none when ''); a string body is sent as it is. */
export function apiCaller(app: { request(path: string, init: RequestInit): Response | Promise<Response> }) {
  return async (method: string, path: string, body?: unknown, token = API_TOKEN): Promise<Response> => {
    const headers: Record<string, string> = token === '' ? {} : { authorization: `Bearer ${token}` };
    if (body === undefined) return app.request(`/api${path}`, { method, headers });
    headers['content-type'] = 'application/json';
    return app.request(`/api${path}`, { method, headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  };
}
