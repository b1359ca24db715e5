import { expect } from 'vitest';
import { parseFaults } from '../../sim/faults.ts';
import { runSeeds } from '../../sim/sim-runner.ts';

/** The fault kinds CI runs: every kind, at its default rate. */
export const CI_FAULTS = '';

/** Runs a block of seeds with the CI faults and expects no invariant to break; prints the replay line of any that does. */
export async function expectSeedsHold(firstSeed: number, seeds: number): Promise<void> {
  const lines: string[] = [];
  const summary = await runSeeds({ firstSeed, seeds, tasks: 3, steps: 400, settleLimitMs: 36 * 3_600_000, rates: parseFaults(CI_FAULTS), log: (l) => lines.push(l) });
  expect(lines.filter((l) => !l.startsWith('SIM ')), lines.join('\n')).toEqual([]);
  expect(summary.seeds_run).toBe(seeds);
  expect(summary.tasks).toBeGreaterThan(0);
}
