import type { ActivityRecord } from './types.ts';

/** Activity records of one job, once durable in its activity log. */
export interface ActivityBatch {
  jobId: string;
  taskId: string;
  stage: string;
  records: readonly ActivityRecord[];
}

export type ActivityListener = (batch: ActivityBatch) => void;

/** Tells followers (the live event stream) what jobs' activity logs gained, as they gain it. */
export class ActivityFeed {
  readonly #listeners = new Set<ActivityListener>();

  follow(listener: ActivityListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  publish(batch: ActivityBatch): void {
    for (const listener of this.#listeners) {
      try {
        listener(batch);
      } catch {
        // A follower's failure is its own; the job goes on.
      }
    }
  }
}
