import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyedSerial, systemClock, type RuntimeHandle, type SendOptions, type SendOutcome, type TaskEventInput } from '../../actors/index.ts';
import type { EffectInput } from '../../machines/index.ts';
import { EmbeddedStore, type Collection, type StoreRecord } from '../../store/index.ts';

/** What an effect told its task. */
export interface SentEvent {
  taskId: string;
  event: TaskEventInput;
  source: SendOptions['source'];
}

/** The part of a runtime an effect sees, over a real embedded store, recording what the effect sends. */
export class RecordingRuntime implements RuntimeHandle {
  readonly clock = systemClock;
  readonly stopping = false;
  readonly turns = new KeyedSerial();
  detached(): boolean {
    return false;
  }
  readonly sent: SentEvent[] = [];
  /** What `committed()` answers; a rejected promise plays a transition that never became durable. */
  commit: Promise<void> = Promise.resolve();

  constructor(readonly store: EmbeddedStore, readonly bootId: string) {}

  send(taskId: string, event: TaskEventInput, opts: SendOptions): Promise<SendOutcome> {
    this.sent.push({ taskId, event, source: opts.source });
    return Promise.resolve({ status: 'accepted', taskId, from: '', to: '' });
  }

  committed(): Promise<void> {
    return this.commit;
  }

  meta() {
    return undefined;
  }

  contextOf() {
    return undefined;
  }

  async write(records: StoreRecord[]): Promise<void> {
    await this.store.commit(records);
  }

  read<T>(collection: Collection, id: string): T | undefined {
    return this.store.get<T>(collection, id);
  }

  list<T>(collection: Collection): T[] {
    return this.store.list<T>(collection);
  }

  async annotate(): Promise<void> {}
}

/** A fresh embedded store in a temp dir; `reopen` closes it and loads the same files again. */
export async function tempStore(prefix = 'conveyor-effects-'): Promise<{ dir: string; store: EmbeddedStore; reopen(): Promise<EmbeddedStore>; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const handle = {
    dir,
    store: new EmbeddedStore({ dir }),
    async reopen() {
      await handle.store.close();
      handle.store = new EmbeddedStore({ dir });
      await handle.store.load();
      return handle.store;
    },
    async cleanup() {
      await handle.store.close().catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
  await handle.store.load();
  return handle;
}

/** An effect input as the task machine builds it. */
export function effectInput(over: Partial<EffectInput> = {}): EffectInput {
  const taskId = over.taskId ?? 't1';
  const effect = over.effect ?? 'mergePullRequest';
  return { taskId, effect, key: `${taskId}:${effect}:e0:v5:a1`, repo: 'shop', branch: 'feature', head: { sha: 'a'.repeat(40), pr: 1 }, ...over };
}
