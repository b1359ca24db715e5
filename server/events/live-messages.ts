import { alertView, summarize, type ActivityBatch, type Conveyor, type StoredAlert, type TaskSummary } from '../../actors/index.ts';
import type { StoreRecord } from '../../store/index.ts';

/** One message of the event stream: its SSE event name and its JSON data. */
export type LiveMessage =
  | { event: 'transition'; data: TransitionMessage }
  | { event: 'decision' | 'alert' | 'job' | 'effect'; data: Record<string, unknown> }
  | { event: 'activity'; data: ActivityBatch };

/** A committed history entry of a task (a transition, or an event it refused), with the task as it now is. */
export interface TransitionMessage {
  taskId: string;
  at: number;
  source: string;
  event: string;
  accepted: boolean;
  reason?: string;
  from: string;
  to: string;
  task: TaskSummary | null;
}

/** What a running job just did, as its activity log now records it. */
export function activityMessage(batch: ActivityBatch): LiveMessage {
  return { event: 'activity', data: { jobId: batch.jobId, taskId: batch.taskId, stage: batch.stage, records: batch.records } };
}

/** The messages one durable commit makes, in the order it wrote them. */
export function liveMessages(conveyor: Conveyor, records: readonly StoreRecord[]): LiveMessage[] {
  const out: LiveMessage[] = [];
  for (const r of records) {
    switch (r.kind) {
      case 'step':
      case 'history': {
        const h = r.entry;
        const record = conveyor.record(r.taskId);
        // Only the event's type: its body (a review's comments, a webhook's payload) can be large.
        out.push({
          event: 'transition',
          data: {
            taskId: r.taskId, at: h.at, source: h.source, event: h.event.type, accepted: h.accepted,
            ...(h.reason ? { reason: h.reason } : {}), from: h.from, to: h.to, task: record ? summarize(record) : null,
          },
        });
        break;
      }
      case 'put': {
        const message = collectionMessage(r.collection, r.id, r.value);
        if (message) out.push(message);
        break;
      }
      case 'task':
      case 'delivery':
      case 'delete':
      case 'archived':
      case 'pruned':
        // A task record comes with its history entry; deliveries, deletions and retention show nothing.
        break;
      default: {
        const never: never = r;
        throw new Error(`server: unknown store record ${JSON.stringify(never)}`);
      }
    }
  }
  return out;
}

function collectionMessage(collection: string, id: string, value: unknown): LiveMessage | null {
  const v = (value ?? {}) as Record<string, unknown>;
  switch (collection) {
    case 'decisions':
      return { event: 'decision', data: v };
    case 'alerts': {
      // As GET /api/alerts shows it, less an unrouted webhook's whole payload.
      const alert = alertView(id, v as StoredAlert);
      const { event: _payload, ...details } = alert.details;
      return { event: 'alert', data: { ...alert, details } };
    }
    case 'jobs': {
      const { tokenHash: _hash, ...rest } = v;
      return { event: 'job', data: rest };
    }
    case 'effects':
      return { event: 'effect', data: v };
    default:
      return null;
  }
}
