import type { Runtime } from '../runtime.ts';
import { alertView, type Alert, type StoredAlert } from './alert-text.ts';

export interface AlertFilter {
  kind?: string;
  taskId?: string;
  status?: Alert['status'];
}

export type AckResult =
  | { ok: true; alert: Alert }
  | { ok: false; code: 'not_found' | 'already_acknowledged'; message: string; alert?: Alert };

export const alertStatuses = ['open', 'acknowledged'] as const;

/** Alerts raised by any part of conveyor (SPEC R43): listed for operators, and acknowledged by them. */
export class Alerts {
  /** Acknowledgements are read-modify-write: one at a time, so a second one sees the first. */
  #acks: Promise<unknown> = Promise.resolve();

  constructor(private readonly runtime: Runtime) {}

  /** Every alert matching the filter, newest first. */
  list(filter: AlertFilter = {}): Alert[] {
    const out: Alert[] = [];
    for (const [id, stored] of this.runtime.entries<StoredAlert>('alerts')) {
      const alert = alertView(id, stored);
      if (filter.kind && alert.kind !== filter.kind) continue;
      if (filter.taskId && alert.taskId !== filter.taskId) continue;
      if (filter.status && alert.status !== filter.status) continue;
      out.push(alert);
    }
    return out.sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  get(id: string): Alert | undefined {
    const stored = this.runtime.read<StoredAlert>('alerts', id);
    return stored && alertView(id, stored);
  }

  /** Marks an alert as seen to, durably; an alert is acknowledged once, a second time is refused naming the first. */
  ack(id: string, by: string, note?: string): Promise<AckResult> {
    const run = this.#acks.then(async (): Promise<AckResult> => {
      const stored = this.runtime.read<StoredAlert>('alerts', id);
      if (!stored) return { ok: false, code: 'not_found', message: `alert ${id} does not exist` };
      if (stored.acknowledged) {
        const a = stored.acknowledged;
        return { ok: false, code: 'already_acknowledged', message: `alert ${id} was already acknowledged by ${a.by} at ${new Date(a.at).toISOString()}`, alert: alertView(id, stored) };
      }
      const acked: StoredAlert = { ...stored, acknowledged: { at: this.runtime.clock.now(), by, ...(note ? { note } : {}) } };
      await this.runtime.write([{ kind: 'put', collection: 'alerts', id, value: acked }]);
      return { ok: true, alert: alertView(id, acked) };
    });
    this.#acks = run.catch(() => undefined);
    return run;
  }
}
