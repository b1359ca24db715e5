import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { Conveyor, Workbench, type EnsureWorktreeResult, type GitWorkbench } from '../../actors/index.ts';
import { EmbeddedStore } from '../../store/index.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0)) await c();
});

/** Git whose worktree creation waits until the test lets it finish. */
function heldGit(): { git: GitWorkbench; asked: Promise<void>; finish(): void } {
  let finish: (r: EnsureWorktreeResult) => void = () => undefined;
  let asked: () => void = () => undefined;
  const askedP = new Promise<void>((resolve) => (asked = resolve));
  const git: GitWorkbench = {
    ensureWorktree: (_repo, taskId, branch) => {
      asked();
      return new Promise((resolve) => (finish = resolve)).then(() => ({ ok: true, path: `/nowhere/${taskId}`, branch, head: 'a'.repeat(40), created: true }));
    },
    removeWorktree: async () => ({ ok: true, removed: false }),
    sync: async () => ({ outcome: 'in_sync', head: 'a'.repeat(40), ahead: 0, remoteBranch: true }),
    rebaseOntoTarget: async () => ({ head: 'a'.repeat(40), rebased: false, pushed: false }),
  };
  return { git, asked: askedP, finish: () => finish({ ok: true, path: '', branch: '', head: '', created: true }) };
}

describe('a stage preparation in flight when conveyor stops (SIGTERM)', () => {
  it('ends without an unhandled rejection, and the task restarts its preparation on the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'conveyor-prepare-stop-'));
    const held = heldGit();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    cleanup.push(async () => {
      process.off('unhandledRejection', onUnhandled);
      await rm(dir, { recursive: true, force: true });
    });
    const open = (git: GitWorkbench) => {
      const workbench = new Workbench({ dataDir: join(dir, 'data'), repos: [{ name: 'shop', remote: 'file:///nowhere', targetBranch: 'main' }], world: { git } });
      return new Conveyor({ store: new EmbeddedStore({ dir: join(dir, 'store') }), workbench });
    };
    const conveyor = open(held.git);
    await conveyor.start();
    const { taskId } = await conveyor.createTask({ repo: 'shop', title: 'stopped mid-preparation' }, { source: 'operator' });
    const { taskId: other } = await conveyor.createTask({ repo: 'shop', title: 'busy mailbox' }, { source: 'operator' });
    await held.asked;

    // Another task's mailbox is still committing (an fsync) when the stop begins, so the runtime drains
    // it, and meanwhile git answers: the preparation's report is refused, as the runtime is stopping.
    const busy = conveyor.send(other, { type: 'ci.status', sha: 'b'.repeat(40), state: 'success', context: 'ci' }, { source: 'webhook' });
    const stopping = conveyor.stop();
    held.finish();
    await busy;
    await stopping;
    // Rejections are reported after a turn of the event loop.
    await delay(50);
    expect(unhandled).toEqual([]);

    const again = open(heldGit().git);
    await again.start();
    cleanup.unshift(() => again.stop());
    expect(again.task(taskId)?.state).toBe('analysis.preparing');
  });
});
