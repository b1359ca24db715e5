import type { TaskEmitted } from '../../machines/index.ts';
import type { StoreRecord } from '../../store/index.ts';

/** A question put to a human (SPEC R25), stored in collection "decisions". */
export interface DecisionRecord {
  id: string;
  taskId: string;
  contextKey: string;
  question: string;
  options: string[];
  status: 'pending' | 'resolved' | 'superseded';
  openedAt: number;
  data?: Record<string, unknown>;
  resolution?: string;
  /** A reply's own words (an agent's question answered with `Reply`). */
  answer?: string;
  by?: string;
  resolvedAt?: number;
}

/**
 * The records a transition's emissions add to its own commit: an opened decision, a withdrawn one
 * (superseded, unless it was opened in this very transition), a failure alert, an effect a human
 * settled. One commit, so no reader sees a failure without its decision.
 */
export function emissionRecords(
  taskId: string,
  emitted: readonly TaskEmitted[],
  at: number,
  read: (id: string) => DecisionRecord | undefined,
  readEffect: (key: string) => Record<string, unknown> | undefined = () => undefined,
): StoreRecord[] {
  const opened = new Map<string, DecisionRecord>();
  const records: StoreRecord[] = [];
  for (const e of emitted) {
    switch (e.type) {
      case 'decision.requested':
        opened.set(e.decisionId, { id: e.decisionId, taskId, contextKey: e.contextKey, question: e.question, options: e.options, status: 'pending', openedAt: at, data: e.data });
        break;
      case 'decision.withdrawn': {
        if (opened.delete(e.decisionId)) break;
        const prior = read(e.decisionId);
        if (prior?.status === 'pending') records.push(put({ ...prior, status: 'superseded', resolvedAt: at }));
        break;
      }
      case 'effect.settled': {
        const effect = readEffect(e.key);
        if (!effect) break;
        const status = e.outcome === 'happened' ? 'completed' : 'abandoned';
        records.push({ kind: 'put', collection: 'effects', id: e.key, value: { ...effect, status, finishedAt: at, settledBy: e.by ?? 'operator', result: effect.result ?? null } });
        break;
      }
      case 'task.failed':
        records.push({ kind: 'put', collection: 'alerts', id: `task-failed:${taskId}:${at}`, value: { kind: 'task_failed', at, taskId, stage: e.stage, reason: e.reason, ...e.data } });
        break;
      default: {
        const never: never = e;
        throw new Error(`runtime: unknown emitted event ${JSON.stringify(never)}`);
      }
    }
  }
  return [...records, ...[...opened.values()].map(put)];
}

const put = (d: DecisionRecord): StoreRecord => ({ kind: 'put', collection: 'decisions', id: d.id, value: d });
