import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Conveyor, InProcessExecutor, realGit, Workbench, type GitWorkbench, type WorkbenchOptions } from '../../actors/index.ts';
import { createApp } from '../../server/app.ts';
import { defaultTrackerRouting } from '../../server/default-tracker.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { driveToTesting } from '../support/effects-pipeline.ts';
import { ForgeDouble } from '../support/forge-double.ts';
import { API_TOKEN, apiCaller, FORGE_SECRET, TRACKER_SECRET, waitForState } from '../support/http-fixtures.ts';
import { createRemote, isolateGitConfig, makeTempDir } from '../git/fixtures.ts';

/**
 * Watches every piece of work conveyor does inside a task's worktree (syncs, pre-merge rebases, agents)
 * and records each time two of them were inside the same worktree at once.
 */
class WorktreeWatch {
  readonly #inside = new Map<string, string>();
  readonly overlaps: string[] = [];
  readonly #gates = new Map<string, { entered: boolean; release: () => void; released: Promise<void> }>();

  /** The next `what` in a worktree waits, once inside, until released. */
  hold(what: string): void {
    let release = () => undefined as void;
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#gates.set(what, { entered: false, release, released });
  }

  entered(what: string): boolean {
    return this.#gates.get(what)?.entered ?? false;
  }

  release(what: string): void {
    this.#gates.get(what)?.release();
  }

  async inside<T>(path: string, what: string, work: () => Promise<T>): Promise<T> {
    const other = this.#inside.get(path);
    if (other) this.overlaps.push(`${what} ran in ${path} while ${other} was running there`);
    this.#inside.set(path, what);
    try {
      const gate = this.#gates.get(what);
      if (gate && !gate.entered) {
        gate.entered = true;
        await gate.released;
      }
      return await work();
    } finally {
      if (this.#inside.get(path) === what) this.#inside.delete(path);
    }
  }

  /** The real git, with syncs and rebases watched. */
  git(dataDir: string): GitWorkbench {
    const real = realGit(dataDir);
    return {
      ensureWorktree: (repo, taskId, branch) => real.ensureWorktree(repo, taskId, branch),
      removeWorktree: (repo, taskId) => real.removeWorktree(repo, taskId),
      sync: (o) => this.inside(o.path, 'sync', () => real.sync(o)),
      rebaseOntoTarget: (worktree, branch, target) => this.inside(worktree, 'rebase', () => real.rebaseOntoTarget(worktree, branch, target)),
    };
  }
}

let restoreEnv: () => void;
beforeAll(() => {
  restoreEnv = isolateGitConfig();
});
afterAll(() => restoreEnv());

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function open(watch: WorktreeWatch, extra: Partial<WorkbenchOptions> = {}) {
  const root = await makeTempDir('conveyor-one-writer-');
  cleanups.push(root.cleanup);
  const remote = await createRemote(root.path, { 'README.md': 'one writer\n' });
  const forge = await ForgeDouble.start();
  cleanups.push(() => forge.close());
  const dataDir = join(root.path, 'data');
  const workbench = new Workbench({
    dataDir,
    repos: [{ name: 'shop', remote: remote.path, targetBranch: 'main', forge: forge.config() }],
    agents: {},
    world: { git: watch.git(dataDir) },
    ...extra,
  });
  const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: join(root.path, 'store') }), workbench });
  await conveyor.start();
  cleanups.push(() => conveyor.stop());
  const app = createApp({ conveyor, apiToken: API_TOKEN, trackerSecret: TRACKER_SECRET, forgeSecret: FORGE_SECRET, tracker: defaultTrackerRouting });
  const api = apiCaller(app);
  const refresh = (taskId: string, stage: string) => api('POST', `/tasks/${taskId}/stages/${stage}/refresh`);
  return { conveyor, forge, workbench, refresh, head: remote.head };
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`one-writer: gave up waiting for ${what}`);
    await delay(5);
  }
}

describe('one writer per worktree', () => {
  it('runs no refresh in a worktree while the task rebases it before its merge', async () => {
    const watch = new WorktreeWatch();
    const { conveyor, forge, refresh, head: sha } = await open(watch);
    // The task's branch starts at the target's head, so the pull request's head is that commit.
    const pr = forge.addPullRequest({ head: 'conveyor/merge-me', headSha: sha });
    const taskId = await driveToTesting(conveyor, { repo: 'shop', pr: pr.number, sha, branch: 'conveyor/merge-me' });
    watch.hold('rebase');
    await conveyor.send(taskId, { type: 'test.result', sha, passed: true }, { source: 'webhook' });
    await until('the pre-merge rebase', () => watch.entered('rebase'));

    const answer = refresh(taskId, 'deploy-staging');
    // The refresh either answers at once or waits its turn; the rebase goes on either way.
    await Promise.race([answer, delay(300)]);
    watch.release('rebase');
    const res = await answer;
    await waitForState(conveyor, taskId, (v) => v.state === 'deploy-staging.gating' || v.state === 'deploy.gating', 10_000);

    expect(watch.overlaps).toEqual([]);
    expect(pr).toMatchObject({ merges: 1 });
    expect(res.status).toBe(409);
  });

  it('runs no refresh in a worktree while the task\'s agent may launch there', async () => {
    const watch = new WorktreeWatch();
    let releaseFirst = () => undefined as void;
    const firstDone = new Promise<void>((resolve) => (releaseFirst = resolve));
    let first: string | null = null;
    const developer = new InProcessExecutor(async (spec) => {
      await watch.inside(spec.cwd, `agent ${spec.jobId}`, async () => {
        if (spec.taskId === first) await firstDone;
      });
      return 0;
    });
    const agents = { analyst: { executor: new InProcessExecutor(async () => 0) }, developer: { executor: developer } };
    const { conveyor, refresh } = await open(watch, { agents, limits: { globalJobs: 1, perRepoJobs: 1 } });

    const start = async (title: string) => {
      const { taskId } = await conveyor.createTask({ repo: 'shop', title }, { source: 'operator' });
      await waitForState(conveyor, taskId, 'analysis.gating', 10_000);
      return taskId;
    };
    first = await start('holds the only slot');
    const second = await start('waits for it');
    await conveyor.send(first, { type: 'analysis.approved' }, { source: 'operator' });
    await waitForState(conveyor, first, 'development.working.running', 10_000);
    await conveyor.send(second, { type: 'analysis.approved' }, { source: 'operator' });
    await waitForState(conveyor, second, 'development.working.queued', 10_000);

    watch.hold('sync');
    const answer = refresh(second, 'development');
    await Promise.race([answer, until('the refresh to sync', () => watch.entered('sync'), 2_000).catch(() => undefined)]);
    // The slot frees while the refresh may be inside the worktree: the waiting agent is launched now.
    releaseFirst();
    await Promise.race([answer, delay(300)]);
    watch.release('sync');
    const res = await answer;
    await waitForState(conveyor, second, 'development.gating', 10_000);

    expect(watch.overlaps).toEqual([]);
    expect([200, 409]).toContain(res.status);
  });
});
