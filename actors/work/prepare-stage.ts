import { mkdir } from 'node:fs/promises';
import { fromCallback } from 'xstate';
import type { PrepareInput } from '../../machines/index.ts';
import type { RepoSpec, Worktrees } from '../git/index.ts';
import type { RuntimeHandle } from '../types.ts';

export interface PrepareOptions {
  rt: RuntimeHandle;
  worktrees: Worktrees;
  /** The configured repository of that name, or undefined (then the task works in a plain directory). */
  repoFor(name: string): RepoSpec | undefined;
  workdirFor(taskId: string): string;
}

/**
 * The prepareStage actor: makes sure the task's branch and worktree exist (created once, whoever
 * races) before the stage's agent runs, then reports stage.prepared or stage.prepare_failed.
 */
export function prepareStageActor(o: PrepareOptions) {
  const { rt } = o;
  return fromCallback<{ type: string }, PrepareInput>(({ input }) => {
    let stopped = false;
    const report = (event: { type: 'stage.prepared' } | { type: 'stage.prepare_failed'; reason: string }) =>
      stopped ? undefined : rt.send(input.taskId, event, { source: 'runtime' });
    void (async () => {
      await rt.committed(input.taskId);
      if (stopped) return;
      const repo = o.repoFor(input.repo);
      if (!repo) {
        await mkdir(o.workdirFor(input.taskId), { recursive: true });
        return report({ type: 'stage.prepared' });
      }
      const result = await o.worktrees.ensureWorktree(repo, input.taskId, input.branch);
      if (!result.ok) return report({ type: 'stage.prepare_failed', reason: result.reason });
      return report({ type: 'stage.prepared' });
    })().catch((e: unknown) => report({ type: 'stage.prepare_failed', reason: (e as Error).message }));
    return () => {
      stopped = true;
    };
  });
}
