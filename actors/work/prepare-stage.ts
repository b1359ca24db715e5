import { fromPromise } from 'xstate';
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
 * a recovery event (hard reset, still divergent) or stage.prepare_failed. It starts once the
 * transition into the state is durable (the runtime's wrapper waits for that).
 */
export function prepareStageActor(o: PrepareOptions) {
  const { rt } = o;
  // A promise, so that a rejection (a report the runtime refused) reaches the runtime as the invoke's failure.
  return fromPromise<void, PrepareInput>(async ({ input, signal }) => {
    let event: TaskEventInput;
    try {
      event = await prepare(o, input);
    } catch (e) {
      event = { type: 'stage.prepare_failed', reason: (e as Error).message };
    }
    if (!signal.aborted) await rt.send(input.taskId, event, { source: 'runtime' });
  });
}

/** What the preparation found: prepared, a recovery event (hard reset, still divergent) or a failure. */
async function prepare(o: PrepareOptions, input: PrepareInput): Promise<TaskEventInput> {
  const repo = o.repoFor(input.repo);
  if (!repo) {
    await o.fs.mkdirp(o.workdirFor(input.taskId));
    return { type: 'stage.prepared', outcome: 'in_sync' };
  }
  const result = await o.git.ensureWorktree(repo, input.taskId, input.branch);
  if (!result.ok) return { type: 'stage.prepare_failed', reason: result.reason };
  if (result.created) return { type: 'stage.prepared', outcome: 'created' };
  // At every later stage boundary the worktree is synced with its remote branch (SPEC R26).
  const synced = await o.git.sync({ path: result.path, branch: input.branch, taskId: input.taskId });
  return syncEvent(synced);
}
