import type { EffectName } from '../../machines/index.ts';
import type { RuntimeHandle } from '../types.ts';

/** How a `started` record left by an earlier boot was settled by asking the outside world. */
export interface Reconciliation {
  at: number;
  bootId: string;
  outcome: 'done' | 'not_done' | 'unknown';
  reason?: string;
}

interface RecordBase {
  key: string;
  taskId: string;
  effect: EffectName;
  /** The boot that called out (or last tried to). */
  bootId: string;
  startedAt: number;
  reconciled?: Reconciliation;
}

/** One journal entry of an outside effect, stored in the 'effects' collection under its idempotency key. */
export type EffectRecord =
  | (RecordBase & { status: 'started' })
  | (RecordBase & { status: 'completed'; result: unknown; finishedAt: number })
  | (RecordBase & {
      status: 'failed';
      error: string;
      retriable: boolean;
      finishedAt: number;
      /** Set when an operator force-released the effect; `late` is what the call reported afterwards, if anything. */
      releasedBy?: string;
      late?: { at: number; result?: unknown; error?: string };
    })
  | (RecordBase & { status: 'abandoned'; finishedAt: number });

export type EffectStatus = EffectRecord['status'];

export const effectStatuses: readonly EffectStatus[] = ['started', 'completed', 'failed', 'abandoned'];

/**
 * What the journal needs of the runtime: durable writes and reads of its records, and the runtime's
 * own turns per key. Writes of one key take turns, so a read-modify-write never loses the other's
 * outcome (an operator's release against the call finishing, say); per runtime, not per module, so a
 * runtime that died in a write never holds up the one that replaces it.
 */
export type JournalStore = Pick<RuntimeHandle, 'read' | 'write' | 'turns'>;

/**
 * Reads the record of `key`, lets `next` decide its new value (undefined writes nothing) and commits
 * it; resolves with the record as it now stands, once durable.
 */
export function updateEffect(
  rt: JournalStore,
  key: string,
  next: (current: EffectRecord | undefined) => EffectRecord | undefined,
): Promise<EffectRecord | undefined> {
  return rt.turns.run(`effect:${key}`, async () => {
    const current = rt.read<EffectRecord>('effects', key);
    const value = next(current);
    if (value === undefined) return current;
    await rt.write([{ kind: 'put', collection: 'effects', id: key, value }]);
    return value;
  });
}

/** The record of `key` once every write to it already under way in this process has landed. */
export function readEffect(rt: JournalStore, key: string): Promise<EffectRecord | undefined> {
  return updateEffect(rt, key, () => undefined);
}

/** The effects figures of the runtime's status: what is in flight and how many were reconciled after a restart. */
export function effectStats(records: readonly EffectRecord[]): { inFlight: EffectRecord[]; reconciled: number } {
  return {
    inFlight: records.filter((r) => r.status === 'started'),
    reconciled: records.filter((r) => r.reconciled !== undefined).length,
  };
}
