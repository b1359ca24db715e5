import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { DecisionRecord, EffectRecord, JobRecord, TaskSummary } from '../../actors/index.ts';
import type { HistoryEntry } from '../../store/index.ts';
import { createTask, json, makeGitApp, type GitApp } from '../decisions/git-app.ts';
import { isolateGitConfig } from '../git/fixtures.ts';
import { expectError } from '../support/http-fixtures.ts';

let restoreEnv: () => void;
beforeAll(() => {
  restoreEnv = isolateGitConfig();
});
afterAll(() => restoreEnv());

let t: GitApp;
beforeEach(async () => {
  t = await makeGitApp();
});
afterEach(async () => {
  await t.close();
});

type Listed<T> = { next: string | null } & Record<string, T[] | string | null>;

/** Every item of a list, page by page, following `next`; also how many pages it took. */
async function walk<T>(path: string, name: string, limit: number): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res = await t.api('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status).toBe(200);
    const body = await json<Listed<T>>(res);
    items.push(...(body[name] as T[]));
    cursor = body.next;
    pages++;
  } while (cursor !== null);
  return { items, pages };
}

const whole = async <T>(path: string, name: string) => (await json<Record<string, T[]>>(await t.api('GET', path)))[name]!;

describe('paged lists', () => {
  it('pages tasks oldest first; a task created between pages comes on a later page, none repeats', async () => {
    const a = await createTask(t, { title: 'a' });
    const b = await createTask(t, { title: 'b' });
    const first = await json<{ tasks: TaskSummary[]; next: string }>(await t.api('GET', '/tasks?limit=1'));
    expect(first.tasks.map((s) => s.id)).toEqual([a.id]);
    const c = await createTask(t, { title: 'c' });
    const rest = await json<{ tasks: TaskSummary[]; next: string | null }>(await t.api('GET', `/tasks?limit=5&cursor=${first.next}`));
    expect(rest.tasks.map((s) => s.id)).toEqual([b.id, c.id]);
    expect(rest.next).toBeNull();
    expect((await walk<TaskSummary>('/tasks', 'tasks', 2)).pages).toBe(2);
    expect(await whole<TaskSummary>('/tasks?status=done', 'tasks')).toEqual([]);
    expect((await whole<TaskSummary>('/tasks?status=active&stage=analysis', 'tasks')).length).toBe(3);
  });

  it('pages a task\'s history in order, filtered by source, event type and acceptance', async () => {
    const task = await createTask(t);
    expect((await t.api('POST', `/tasks/${task.id}/events`, { type: 'resume' })).status).toBe(409);
    expect((await t.api('POST', `/tasks/${task.id}/events`, { type: 'hold', reason: 'wait' })).status).toBe(200);
    expect((await t.api('POST', `/tasks/${task.id}/events`, { type: 'resume' })).status).toBe(200);
    const all = await whole<HistoryEntry>(`/tasks/${task.id}/history`, 'history');
    expect(all.length).toBeGreaterThan(3);
    const paged = await walk<HistoryEntry>(`/tasks/${task.id}/history`, 'history', 2);
    expect(paged.items).toEqual(all);
    expect(paged.pages).toBe(Math.ceil(all.length / 2));
    const resumes = await whole<HistoryEntry>(`/tasks/${task.id}/history?source=operator&type=task.resume`, 'history');
    expect(resumes.map((h) => h.accepted)).toEqual([false, true]);
    expect((await whole<HistoryEntry>(`/tasks/${task.id}/history?source=operator&accepted=true`, 'history')).map((h) => h.event.type)).toEqual(['task.created', 'task.hold', 'task.resume']);
    expect(await whole<HistoryEntry>(`/tasks/${task.id}/history?source=webhook`, 'history')).toEqual([]);
    await expectError(await t.api('GET', `/tasks/${task.id}/history?accepted=maybe`), 422, 'invalid_payload', 'accepted');
  });

  it('pages decisions oldest first and filters them by task', async () => {
    const a = await createTask(t, { title: 'a' });
    const b = await createTask(t, { title: 'b' });
    const { items } = await walk<DecisionRecord>('/decisions?status=pending', 'decisions', 1);
    expect(items.map((d) => d.taskId)).toEqual([a.id, b.id]);
    expect((await whole<DecisionRecord>(`/decisions?task=${b.id}`, 'decisions')).map((d) => d.taskId)).toEqual([b.id]);
  });

  it('lists jobs newest first, filtered by task, stage and status', async () => {
    const a = await createTask(t, { title: 'a' });
    const b = await createTask(t, { title: 'b' });
    const { items, pages } = await walk<JobRecord>('/jobs', 'jobs', 1);
    expect(pages).toBe(items.length);
    expect(items.map((j) => j.taskId)).toEqual([b.id, a.id]);
    expect((await whole<JobRecord>(`/jobs?task=${a.id}&stage=analysis`, 'jobs')).map((j) => j.taskId)).toEqual([a.id]);
    expect(await whole<JobRecord>('/jobs?stage=review', 'jobs')).toEqual([]);
    expect((await whole<JobRecord>('/jobs?status=exited', 'jobs')).length).toBe(2);
    await expectError(await t.api('GET', '/jobs?status=asleep'), 422, 'invalid_payload', 'status');
  });

  it('pages the effect journal newest first', async () => {
    // Journal records as the effect wrapper writes them, straight into the store the route reads.
    const effect = (n: number): EffectRecord => ({ key: `t1:merge:${n}`, taskId: 't1', effect: 'mergePullRequest', bootId: 'b', startedAt: 1000 + n, status: 'started' });
    await t.conveyor.runtime.write([1, 2, 3].map((n) => ({ kind: 'put', collection: 'effects', id: `t1:merge:${n}`, value: effect(n) })));
    const { items, pages } = await walk<EffectRecord>('/effects?task=t1', 'effects', 2);
    expect(items.map((e) => e.key)).toEqual(['t1:merge:3', 't1:merge:2', 't1:merge:1']);
    expect(pages).toBe(2);
  });

  it('refuses a limit out of range or a forged cursor on every list with 422 naming the field', async () => {
    for (const path of ['/tasks', '/decisions', '/effects', '/jobs', '/alerts']) {
      await expectError(await t.api('GET', `${path}?limit=1001`), 422, 'invalid_payload', 'limit');
      await expectError(await t.api('GET', `${path}?cursor=${Buffer.from('{"a":1}').toString('base64url')}`), 422, 'invalid_payload', 'cursor');
    }
  });
});
