import { fromCallback } from 'xstate';
import type { PrepareInput } from '../../machines/index.ts';
import type { FileSystem } from '../../store/index.ts';
import type { RepoSpec } from '../git/index.ts';
import type { GitWorkbench } from './git-workbench.ts';
import type { RuntimeHandle, TaskEventInput } from '../types.ts';
import { syncEvent } from './sync-stage.ts';

export interface PrepareOptions {
  rt: RuntimeHandle;
  git: GitWorkbench;
  fs: FileSystem;
  /** The configured repository of that name, or undefined (then the task works in a plain directory). */
  repoFor(name: string): RepoSpec | undefined;
  workdirFor(taskId: string): string;
}

/**
 * The prepareStage actor: makes sure the task's branch and worktree exist (created once, whoever
 * races) and are in sync with the remote before the stage's agent runs, then reports stage.prepared,
 * a recovery event (hard reset, still divergent) or stage.prepare_failed.
 */
export function prepareStageActor(o: PrepareOptions) {
  const { rt } = o;
  return fromCallback<{ type: string }, PrepareInput>(({ input }) => {
    let stopped = false;
    const report = (event: TaskEventInput) =>
      stopped ? undefined : rt.send(input.taskId, event, { source: 'runtime' });
    void (async () => {
      await rt.committed(input.taskId);
      if (stopped) return;
      const repo = o.repoFor(input.repo);
      if (!repo) {
        await o.fs.mkdirp(o.workdirFor(input.taskId));
        return report({ type: 'stage.prepared' });
      }
      const result = await o.git.ensureWorktree(repo, input.taskId, input.branch);
      if (!result.ok) return report({ type: 'stage.prepare_failed', reason: result.reason });
      if (result.created) return report({ type: 'stage.prepared' });
      // At every later stage boundary the worktree is synced with its remote branch (SPEC R26).
      const outcome = await o.git.sync({ path: result.path, branch: input.branch, taskId: input.taskId });
      return report(syncEvent(outcome) ?? { type: 'stage.prepared' });
    })().catch((e: unknown) => report({ type: 'stage.prepare_failed', reason: (e as Error).message }));
    return () => {
      stopped = true;
    };
  });
}
