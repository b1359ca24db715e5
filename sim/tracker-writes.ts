import type { PerformedWrite } from './tracker.ts';

/**
 * The invariant "no tracker state write is performed twice for the same change". The change a write is
 * for is the status mirror's journal record in flight when the tracker performs it (keyed by task, stage,
 * epoch, visit and revision). A write with no such record was not journaled before the world changed. One
 * change written twice by the same boot is a duplicate. Written again by a later boot is allowed: that boot
 * found the record still `started` (the first write's answer, or the record of its completion, was lost with
 * the process that made it), and setting a state is idempotent, so the mirror makes the write again by design.
 */
export function trackerViolations(performed: readonly PerformedWrite[]): string[] {
  const problems: string[] = [];
  const boots = new Map<string, number[]>();
  for (const w of performed) {
    if (w.key === null) {
      problems.push(`tracker write with no journaled change: issue ${w.issueId} set to ${w.stateId} by boot ${w.boot}`);
      continue;
    }
    const seen = boots.get(w.key) ?? [];
    if (seen.includes(w.boot)) problems.push(`tracker state written twice for the same change: ${w.key} (issue ${w.issueId}, boot ${w.boot})`);
    seen.push(w.boot);
    boots.set(w.key, seen);
  }
  return problems;
}

/** How many changes were written again by a later boot: allowed, and counted so a run shows they happen. */
export function rewrittenAfterCrash(performed: readonly PerformedWrite[]): number {
  const counts = new Map<string, number>();
  for (const w of performed) if (w.key !== null) counts.set(w.key, (counts.get(w.key) ?? 0) + 1);
  return [...counts.values()].filter((n) => n > 1).length;
}
