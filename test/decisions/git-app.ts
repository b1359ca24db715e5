import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { expect } from 'vitest';
import { Conveyor, Workbench, type WorkbenchOptions, Worktrees, type DecisionRecord, type TaskView } from '../../actors/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { commitFiles, createRemote, git, makeTempDir, readWorkFile, remoteHead, writeFiles } from '../git/fixtures.ts';
import { API_TOKEN, apiCaller, type Delivery, FORGE_SECRET, TRACKER_SECRET, waitForState } from '../support/http-fixtures.ts';

export const REPO_NAME = 'shop';
export const README = 'line 1\nline 2\nline 3\n';

/** A conveyor whose workbench works on a real bare remote, its HTTP app, and the temp dir holding both. */
export interface GitApp {
  app: ReturnType<typeof createApp>;
  conveyor: Conveyor;
  root: string;
  /** The bare repository standing in for the forge. */
  remote: string;
  /** conveyor's own bare clone, which holds the worktrees' refs (backup refs included). */
  bare: string;
  api(method: string, path: string, body?: unknown): Promise<Response>;
  deliver(delivery: Delivery): Promise<Response>;
  worktreeOf(taskId: string): string;
  close(): Promise<void>;
}

/** Starts a conveyor with a workbench (no agents unless given: every job exits at once) on a fresh remote in a temp dir. */
export async function makeGitApp(opts: { agents?: WorkbenchOptions['agents'] } = {}): Promise<GitApp> {
  const root = await makeTempDir('conveyor-decisions-');
  const remote = await createRemote(root.path, { 'README.md': README });
  const dataDir = join(root.path, 'data');
  const workbench = new Workbench({ dataDir, repos: [{ name: REPO_NAME, remote: remote.path, targetBranch: 'main' }], agents: opts.agents ?? {} });
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: join(root.path, 'store') }), workbench });
  await conveyor.start();
  const app = createApp({ conveyor, apiToken: API_TOKEN, trackerSecret: TRACKER_SECRET, forgeSecret: FORGE_SECRET, tracker: defaultTrackerRouting });
  const api = apiCaller(app);
  return {
    app,
    conveyor,
    root: root.path,
    remote: remote.path,
    bare: new Worktrees({ dataDir }).repoPath({ name: REPO_NAME }),
    api,
    deliver: async (d) => app.request(d.path, { method: 'POST', headers: d.headers, body: d.body }),
    worktreeOf: (taskId) => workbench.workdirFor(taskId),
    close: async () => {
      await conveyor.stop();
      await rm(root.path, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

export async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export const exists = (path: string) => stat(path).then(() => true, () => false);

/** Waits until `check` holds; the runtime's own work (git, jobs, worktree removal) reports asynchronously. */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`fixtures: gave up waiting for ${what}`);
    await delay(5);
  }
}

/** Creates a task through the API and waits for it at the analysis gate, its worktree made. */
export async function createTask(t: GitApp, extra: { trackerIssueId?: string; title?: string } = {}): Promise<TaskView> {
  const res = await t.api('POST', '/tasks', { repo: REPO_NAME, title: extra.title ?? 'Add search', ...extra });
  expect(res.status).toBe(201);
  const { task } = await json<{ task: TaskView }>(res);
  return waitForState(t.conveyor, task.id, 'analysis.gating', 10_000);
}

/** The pending decisions of one task. */
export function pendingOf(t: GitApp, taskId: string): DecisionRecord[] {
  return t.conveyor.decisions.list('pending').filter((d) => d.taskId === taskId);
}

/** Takes a new task through the analysis gate (answering its decision) to rest at development's CI gate. */
export async function taskInDevelopment(t: GitApp): Promise<TaskView> {
  const task = await createTask(t);
  const [decision] = pendingOf(t, task.id);
  if (!decision) throw new Error(`fixtures: task ${task.id} opened no analysis decision`);
  const res = await t.api('POST', `/decisions/${decision.id}/resolve`, { option: 'Approve', by: 'pat' });
  expect(res.status).toBe(200);
  return waitForState(t.conveyor, task.id, 'development.gating', 10_000);
}

/** Replaces the first line of a text. */
const withFirstLine = (text: string, line: string) => [line, ...text.split('\n').slice(1)].join('\n');

/**
 * Makes the task's worktree and its remote branch diverge with conflicting changes to the README: another
 * clone force-pushes `conveyor/<task>`, the worktree gets a local-only commit and an untracked file.
 */
export async function diverge(t: GitApp, taskId: string, mark: string): Promise<{ remote: string; local: string; wip: string }> {
  const branch = `conveyor/${taskId}`;
  const other = join(t.root, `other-${taskId}-${mark}`);
  await git(t.root, 'clone', '--quiet', t.remote, other);
  const onRemote = await remoteHead(t.remote, branch);
  await git(other, 'checkout', '--quiet', '-B', branch, onRemote ? `origin/${branch}` : 'origin/main');
  const base = await readWorkFile(other, 'README.md');
  const remote = await commitFiles(other, { 'README.md': withFirstLine(base, `remote ${mark}`) }, `remote ${mark}`);
  await git(other, 'push', '--quiet', '--force', 'origin', `HEAD:refs/heads/${branch}`);
  const worktree = t.worktreeOf(taskId);
  const mine = await readWorkFile(worktree, 'README.md');
  const local = await commitFiles(worktree, { 'README.md': withFirstLine(mine, `local ${mark}`) }, `local ${mark}`);
  const wip = `uncommitted work ${mark}\n`;
  await writeFiles(worktree, { [`wip-${mark}.txt`]: wip });
  return { remote, local, wip };
}

/** The body the refresh route answers with when the sync discarded work. */
export interface RecoveryConflict {
  error: { code: string; message: string };
  reason: string;
  backup_ref: string;
  discarded_shas: string[];
  decision_id: string | null;
}

/** POST /api/tasks/:id/stages/:stage/refresh. */
export function refresh(t: GitApp, taskId: string, stage: string): Promise<Response> {
  return t.api('POST', `/tasks/${taskId}/stages/${stage}/refresh`);
}
