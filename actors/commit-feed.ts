import type { Store, StoreRecord } from '../store/index.ts';

/** What one durable commit wrote, handed to followers (the live event stream) after it is on disk. */
export type CommitListener = (records: readonly StoreRecord[]) => void;

/**
 * The store as the conveyor uses it, telling followers what each commit wrote once it is durable.
 * Every writer (transitions, decisions, alerts, jobs, effects) commits through it, so a follower sees
 * all of them in commit order without each writer having to remember to announce itself.
 */
export class CommitFeed {
  readonly #listeners = new Set<CommitListener>();
  /** The store to commit through: the inner one, with commit() announcing what it wrote. */
  readonly store: Store;

  constructor(inner: Store) {
    const commit = async (records: StoreRecord[]): Promise<number> => {
      const seq = await inner.commit(records);
      this.announce(records);
      return seq;
    };
    // Every other method passes through untouched, however the Store interface grows; each is bound once
    // (again only if the store's own method changes), not on every read: a request reads the store a dozen times.
    const bound = new Map<PropertyKey, { method: unknown; bound: unknown }>();
    this.store = new Proxy(inner, {
      get(target, key) {
        if (key === 'commit') return commit;
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        const known = bound.get(key);
        if (known?.method === value) return known.bound;
        const method = { method: value, bound: value.bind(target) as unknown };
        bound.set(key, method);
        return method.bound;
      },
    });
  }

  /** Follows every commit from now on; returns the function that stops following. */
  follow(listener: CommitListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  private announce(records: readonly StoreRecord[]): void {
    for (const listener of this.#listeners) {
      try {
        listener(records);
      } catch {
        // A follower's failure must not turn a durable commit into a failed one.
      }
    }
  }
}
