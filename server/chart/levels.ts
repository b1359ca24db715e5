/** A span that takes one of several parallel lanes. */
export interface Interval {
  lo: number;
  hi: number;
  level: number;
}

/** Gives each interval the lowest level free of overlaps, shortest first (so nested spans do not cross). */
export function assignLevels<T extends Interval>(items: T[], span: (item: T) => number): number {
  const levels: T[][] = [];
  for (const item of [...items].sort((a, b) => span(a) - span(b) || a.lo - b.lo)) {
    let l = 0;
    while (levels[l]?.some((o) => item.lo <= o.hi + 2 && o.lo <= item.hi + 2)) l++;
    (levels[l] ??= []).push(item);
    item.level = l;
  }
  return levels.length;
}
