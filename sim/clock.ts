import type { Clock } from '../actors/index.ts';

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
}

/**
 * Simulated time: nothing moves it but the simulator. Timers are conveyor's (the runtime, the store,
 * the background loops); the world's own happenings are scheduled on the same clock as `world` timers,
 * which a crash does not clear.
 */
export class SimClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #timers = new Map<number, Timer & { world: boolean }>();

  constructor(start: number) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown {
    return this.#add(fn, ms, false);
  }

  clearTimeout(id: unknown): void {
    this.#timers.delete(id as number);
  }

  /** Schedules something the world does (a webhook arrives, an agent exits); survives conveyor's crash. */
  later(ms: number, fn: () => void): number {
    return this.#add(fn, ms, true);
  }

  /** Drops conveyor's timers: its process is gone. */
  dropProcessTimers(): void {
    for (const [id, t] of this.#timers) if (!t.world) this.#timers.delete(id);
  }

  /** The next timer due, without running it. */
  peek(): number | null {
    let best: Timer | null = null;
    for (const t of this.#timers.values()) if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    return best?.at ?? null;
  }

  /** Advances to the earliest timer and runs it; false when none is left. */
  runNext(limit: number): boolean {
    let best: (Timer & { id: number }) | null = null;
    for (const [id, t] of this.#timers) if (!best || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = { ...t, id };
    if (!best || best.at > limit) return false;
    this.#timers.delete(best.id);
    this.#now = Math.max(this.#now, best.at);
    best.fn();
    return true;
  }

  pending(): number {
    return this.#timers.size;
  }

  #add(fn: () => void, ms: number, world: boolean): number {
    const id = ++this.#seq;
    this.#timers.set(id, { at: this.#now + Math.max(0, Number.isFinite(ms) ? ms : 2 ** 31), seq: id, fn, world });
    return id;
  }
}
