import type { SyncOutcome } from '../git/index.ts';
import type { TaskEventInput } from '../types.ts';

/**
 * The task event a stage-boundary sync outcome calls for: prepared when the worktree is usable (in
 * sync, fast-forwarded, rebased), recovery when it was reset or is still divergent, a failed
 * preparation when the sync could not even look (nothing was discarded then).
 */
export function syncEvent(outcome: SyncOutcome): TaskEventInput {
  switch (outcome.outcome) {
    case 'in_sync':
    case 'fast_forwarded':
    case 'rebased':
      return { type: 'stage.prepared', outcome: outcome.outcome };
    case 'hard_reset':
      return { type: 'stage.sync_reset', backupRef: outcome.backupRef, discardedShas: outcome.discardedShas, from: outcome.from, to: outcome.to };
    case 'reset_failed':
      return { type: 'stage.sync_failed', backupRef: outcome.backupRef, discardedShas: outcome.discardedShas, error: outcome.error };
    case 'failed':
      return { type: 'stage.prepare_failed', reason: `worktree sync failed at ${outcome.step}: ${outcome.error}` };
    default: {
      const never: never = outcome;
      throw new Error(`work: unknown sync outcome ${JSON.stringify(never)}`);
    }
  }
}
