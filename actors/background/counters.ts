/** A confirmed state change a background actor caused: the figures and notifications report these only. */
export interface ConfirmedChange {
  taskId: string;
  from: string;
  to: string;
  at: number;
  why: string;
}

/** The reconciler's figures for GET /api/status. */
export interface ReconcilerCounters {
  ticks: number;
  lastTickAt: number | null;
  unblockedTotal: number;
  lastUnblocked: ConfirmedChange | null;
  /** Tracker states with an actionable meaning skipped because their group is terminal; each counted once. */
  skippedTerminalTotal: number;
  /** Replays found already delivered; each key counted once. */
  dedupedTotal: number;
  errors: number;
}

/** The reaper's figures for GET /api/status. */
export interface ReaperCounters {
  ticks: number;
  lastTickAt: number | null;
  reapedTotal: number;
  byTier: { 1: number; 2: number; 3: number };
  /** Exited jobs left alone because their finalizer was still at work; each job counted once. */
  finalizerDefers: number;
  errors: number;
}

export function reconcilerCounters(): ReconcilerCounters {
  return { ticks: 0, lastTickAt: null, unblockedTotal: 0, lastUnblocked: null, skippedTerminalTotal: 0, dedupedTotal: 0, errors: 0 };
}

export function reaperCounters(): ReaperCounters {
  return { ticks: 0, lastTickAt: null, reapedTotal: 0, byTier: { 1: 0, 2: 0, 3: 0 }, finalizerDefers: 0, errors: 0 };
}

/**
 * Remembers keys already counted so a figure moves once per fact, never once per tick; bounded, so a
 * long-running process does not grow it without end (a key forgotten is at worst counted again).
 */
export class SeenOnce {
  readonly #seen = new Set<string>();

  constructor(private readonly limit = 10_000) {}

  /** True the first time a key is offered. */
  first(key: string): boolean {
    if (this.#seen.has(key)) return false;
    if (this.#seen.size >= this.limit) this.#seen.delete(this.#seen.values().next().value as string);
    this.#seen.add(key);
    return true;
  }

  forget(key: string): void {
    this.#seen.delete(key);
  }
}
