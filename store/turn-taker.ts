/** Gives the event loop back between slices of a long job, so requests do not wait behind all of it. */
export type Turn = (weight?: number) => Promise<void> | undefined;

/**
 * A turn each time the weight of the calls since the last one reaches `every` (a call weighs 1 unless it says
 * otherwise; a function is asked again at each call); at once otherwise. Counted, not timed: a run replayed
 * from a seed slices its work the same way.
 */
export function turnTaker(every: number | (() => number)): Turn {
  let load = 0;
  return (weight = 1) => {
    load += weight;
    if (load < (typeof every === 'number' ? every : every())) return undefined;
    load = 0;
    return new Promise<void>((resolve) => setImmediate(resolve));
  };
}

/** Never gives a turn: for work that nothing waits behind. */
export const noTurns: Turn = () => undefined;
