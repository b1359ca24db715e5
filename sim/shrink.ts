import { runSeed, type RunOptions, type RunResult } from './run-seed.ts';

/**
 * Cuts a failing run's fault schedule to the fewest faults that still break an invariant: drops halves,
 * then quarters, down to single faults (delta debugging over fault ordinals), within `budget` reruns.
 */
export async function shrink(o: RunOptions, failed: RunResult, budget = 40): Promise<RunResult> {
  let kept = failed.schedule.map((f) => f.ordinal);
  const all = new Set(kept);
  let best = failed;
  let runs = 0;
  const tryWithout = async (cut: number[]): Promise<boolean> => {
    if (runs++ >= budget) return false;
    const keep = new Set(kept.filter((k) => !cut.includes(k)));
    const mask = new Set([...all].filter((k) => !keep.has(k)));
    const r = await runSeed({ ...o, mask });
    if (r.violations.length === 0) return false;
    best = r;
    // Ordinals are reassigned from the draws, so what fired in this run is the new schedule.
    kept = [...keep];
    return true;
  };
  for (let size = Math.ceil(kept.length / 2); size >= 1 && runs < budget; size = size === 1 ? 0 : Math.ceil(size / 2)) {
    for (let i = 0; i < kept.length && runs < budget; ) {
      if (!(await tryWithout(kept.slice(i, i + size)))) i += size;
    }
  }
  return best;
}
