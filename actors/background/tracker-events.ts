import type { TaskEventInput } from '../types.ts';

/** What a tracker status means to a task's pipeline. */
export type TrackerMeaning = 'start' | 'approved' | 'rejected' | 'blocked' | 'needs_input' | 'done' | 'cancelled' | 'other';

/** The tracker's own coarse grouping of workflow states. */
export type TrackerStateGroup = 'backlog' | 'unstarted' | 'started' | 'completed' | 'cancelled';

/** What conveyor knows of each tracker state id, and where an issue's project sends its work. */
export interface TrackerRoutingTable {
  states: Record<string, { group: TrackerStateGroup; meaning: TrackerMeaning; name?: string }>;
  /** tracker project id → repository name */
  projectRepos: Record<string, string>;
  /** repository for issues whose project names none */
  defaultRepo?: string;
}

/** Finished work: a state in one of these groups is never replayed, whatever its id means (SPEC R21). */
export function isTerminalGroup(group: string | null | undefined): boolean {
  return group === 'completed' || group === 'cancelled';
}

/**
 * The domain event a tracker status brings to an existing task; null when it moves nothing. The webhook
 * and the reconciler's replay both use it, so a missed webhook is replayed exactly as it would have been.
 */
export function trackerEvent(meaning: TrackerMeaning, issueId: string): TaskEventInput | null {
  switch (meaning) {
    case 'approved':
      return { type: 'analysis.approved', by: 'tracker' };
    case 'rejected':
      return { type: 'analysis.rejected', by: 'tracker' };
    case 'blocked':
      return { type: 'task.hold', reason: 'tracker: Blocked' };
    case 'needs_input':
      return { type: 'task.hold', reason: 'tracker: Needs Input' };
    case 'cancelled':
      return { type: 'task.cancel', reason: `tracker: issue ${issueId} cancelled` };
    // Back to In Progress lifts a hold the tracker put on.
    case 'start':
      return { type: 'task.resume' };
    case 'done':
    case 'other':
      return null;
    default: {
      const never: never = meaning;
      throw new Error(`tracker: unknown tracker meaning ${String(never)}`);
    }
  }
}

/** The repository an issue's task works on: the issue's own field, its project's, or the default. */
export function repoForIssue(issue: { repo?: string; projectId?: string }, routing: Pick<TrackerRoutingTable, 'projectRepos' | 'defaultRepo'>): string | undefined {
  const byProject = issue.projectId !== undefined && Object.hasOwn(routing.projectRepos, issue.projectId) ? routing.projectRepos[issue.projectId] : undefined;
  return issue.repo ?? byProject ?? routing.defaultRepo;
}
