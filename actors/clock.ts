/** Time as the runtime sees it: injected so tests run on XState's SimulatedClock. */
export interface Clock {
  now(): number;
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

/** The longest delay a Node timer takes; a longer one fires at once (with a warning). */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** A system timer that may be re-armed on the way to a far deadline; clearing it clears whichever is armed. */
interface LongTimer {
  current: NodeJS.Timeout;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const due = Date.now() + ms;
    const arm = (left: number): NodeJS.Timeout => {
      // A deadline past the cap is reached in steps, so a 30-day stage timeout does not fire at 24.8 days.
      const t = left > MAX_DELAY_MS ? setTimeout(() => (timer.current = arm(due - Date.now())), MAX_DELAY_MS) : setTimeout(fn, Math.max(0, left));
      t.unref?.();
      return t;
    };
    const timer: LongTimer = { current: undefined as unknown as NodeJS.Timeout };
    timer.current = arm(ms);
    return timer;
  },
  clearTimeout: (id) => clearTimeout((id as LongTimer).current),
};
