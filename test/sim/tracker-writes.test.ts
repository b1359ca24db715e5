import { describe, expect, it } from 'vitest';
import { rewrittenAfterCrash, trackerViolations } from '../../sim/tracker-writes.ts';

const write = (key: string | null, boot: number) => ({ issueId: 'issue-1', stateId: 'state-in-review', boot, key });

describe('the tracker invariant', () => {
  it('allows one write per change, and the same change written again by a later boot', () => {
    const performed = [write('trackerMirror:t:review:e0:v3:r9', 1), write('trackerMirror:t:testing:e0:v4:r12', 1), write('trackerMirror:t:testing:e0:v4:r12', 2)];
    expect(trackerViolations(performed)).toEqual([]);
    expect(rewrittenAfterCrash(performed)).toBe(1);
  });

  it('names a change written twice by the same boot, and a write with no journaled change', () => {
    expect(trackerViolations([write('trackerMirror:t:review:e0:v3:r9', 2), write('trackerMirror:t:review:e0:v3:r9', 2), write(null, 3)])).toEqual([
      'tracker state written twice for the same change: trackerMirror:t:review:e0:v3:r9 (issue issue-1, boot 2)',
      'tracker write with no journaled change: issue issue-1 set to state-in-review by boot 3',
    ]);
  });
});
