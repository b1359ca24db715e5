import type { EffectName } from './pipeline.ts';

export type CiState = 'pending' | 'success' | 'failure' | 'error';
export type Verdict = 'approved' | 'changes_requested';
export type Environment = 'staging' | 'production';

/** Every event carries the time the runtime stamped on it: machines read no clock. */
interface Stamped {
  at: number;
}

/** Facts the outside world reports; gates are evaluated over them. */
export type FactEvent = Stamped &
  (
    | { type: 'analysis.approved'; by?: string }
    | { type: 'analysis.rejected'; by?: string; reason?: string }
    | { type: 'pr.opened'; number: number; sha: string; url?: string }
    | { type: 'pr.synchronized'; sha: string }
    | { type: 'pr.merged'; sha: string; mergeSha?: string }
    | { type: 'pr.closed' }
    | { type: 'ci.status'; sha: string; state: CiState; context: string; url?: string; description?: string }
    | { type: 'review.verdict'; sha: string; verdict: Verdict; comments?: string }
    | { type: 'test.result'; sha: string; passed: boolean; summary?: string }
    | { type: 'deploy.status'; environment: Environment; state: 'success' | 'failure'; url?: string }
    | { type: 'dependency.done'; taskId: string }
  );

/** What an operator (API, console, tracker Blocked/Cancelled) asks of a task. */
export type OperatorEvent = Stamped &
  (
    | { type: 'task.hold'; reason: string }
    | { type: 'task.resume' }
    | { type: 'task.cancel'; reason: string }
    | { type: 'task.retry' }
  );

/** What the task's own invoked actors report back. */
export type WorkEvent = Stamped &
  (
    | { type: 'stage.prepared' }
    | { type: 'stage.prepare_failed'; reason: string }
    | { type: 'job.started'; jobId: string; pid?: number }
    | { type: 'job.exited'; jobId: string; code: number | null; reason?: string }
    | { type: 'effect.done'; effect: EffectName; result?: unknown }
    | { type: 'effect.failed'; effect: EffectName; error: string; retriable: boolean }
    | { type: 'timer.fired'; deadline: number }
  );

/** Every event the task machine understands. */
export type TaskEvent = FactEvent | OperatorEvent | WorkEvent;

export type TaskEventType = TaskEvent['type'];

/** Event types only conveyor's own actors may send; the API and webhooks cannot forge them. */
export const internalEventTypes: ReadonlySet<string> = new Set<WorkEvent['type']>([
  'stage.prepared',
  'stage.prepare_failed',
  'job.started',
  'job.exited',
  'effect.done',
  'effect.failed',
  'timer.fired',
]);
