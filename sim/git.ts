import { RetriableError, type GitWorkbench } from '../actors/index.ts';
import type { SimClock } from './clock.ts';
import type { Faults } from './faults.ts';
import type { SimForge } from './forge.ts';
import type { SimRandom } from './random.ts';

/**
 * The git workbench as the simulator plays it: worktrees are made once (and survive a crash, being on
 * disk), a stage-boundary sync finds the remote diverged or fails to fetch, an operation is interrupted,
 * as the faults say. Each call takes simulated time, and a dead process hears no answer.
 */
export class SimGit {
  readonly #worktrees = new Set<string>();
  #backups = 0;

  constructor(
    private readonly clock: SimClock,
    private readonly random: SimRandom,
    private readonly faults: Faults,
    private readonly forge: SimForge,
  ) {}

  /** The workbench one process sees. */
  view(alive: () => boolean): GitWorkbench {
    const later = <T>(fn: () => T): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        this.clock.later(this.random.int(20, 500), () => {
          if (!alive()) return;
          try {
            resolve(fn());
          } catch (e) {
            reject(e as Error);
          }
        });
      });
    const path = (taskId: string) => `/data/worktrees/${taskId}`;
    return {
      ensureWorktree: (_repo, taskId, branch) => later(() => {
        if (this.faults.roll('gitFail')) return { ok: false as const, reason: `worktree: git worktree add was interrupted for ${taskId}` };
        const created = !this.#worktrees.has(taskId);
        this.#worktrees.add(taskId);
        return { ok: true as const, path: path(taskId), branch, head: this.forge.headOf(branch) ?? 'b'.repeat(40), created };
      }),
      removeWorktree: (_repo, taskId) => later(() => ({ ok: true as const, removed: this.#worktrees.delete(taskId) })),
      sync: ({ branch, taskId }) => later(() => {
        const head = this.forge.headOf(branch) ?? 'b'.repeat(40);
        if (this.faults.roll('gitFail')) return { outcome: 'failed' as const, step: 'fetch' as const, error: 'sim: fetch interrupted' };
        if (!this.faults.roll('diverge')) return { outcome: 'in_sync' as const, head, ahead: 0, remoteBranch: true };
        const backupRef = `refs/conveyor/sync-recovery/${taskId}/${++this.#backups}`;
        if (this.random.chance(0.8)) return { outcome: 'hard_reset' as const, backupRef, discardedShas: ['d'.repeat(40)], from: 'd'.repeat(40), to: head };
        return { outcome: 'reset_failed' as const, backupRef, discardedShas: ['d'.repeat(40)], from: 'd'.repeat(40), error: 'sim: reset failed' };
      }),
      rebaseOntoTarget: (_worktree, branch) => later(() => {
        if (this.faults.roll('gitFail')) throw new RetriableError('merge-queue: sim: fetching origin was interrupted');
        return { head: this.forge.headOf(branch) ?? 'b'.repeat(40), rebased: false, pushed: false };
      }),
    };
  }
}
