import type { SimClock } from './clock.ts';
import type { SimProcess } from './process.ts';
import { API_TOKEN } from './process.ts';
import type { SimRandom } from './random.ts';
import type { SimTracker, TrackerStateId } from './tracker.ts';

/**
 * The people around conveyor: a product owner who moves tracker issues to In Progress (and touches an
 * issue again when no task shows up for it) and blocks one now and then, and a reviewer who approves analyses, through the tracker
 * or through conveyor's decisions API.
 */
export class SimHuman {
  readonly #issues = new Map<string, string>();

  constructor(
    private readonly clock: SimClock,
    private readonly random: SimRandom,
    private readonly tracker: SimTracker,
    private readonly current: () => SimProcess | null,
    private readonly note: (line: string) => void,
  ) {}

  /** Moves an issue to In Progress after `delayMs`, and again every two hours until conveyor has a task for it. */
  openIssue(issueId: string, repo: string, delayMs: number): void {
    this.#issues.set(issueId, repo);
    const touch = () => {
      if (this.current()?.conveyor.taskForIssue(issueId)) return;
      this.#move(issueId, 'state-in-progress');
      this.clock.later(2 * 3_600_000, touch);
    };
    this.clock.later(delayMs, touch);
  }

  allOpened(): boolean {
    const p = this.current();
    return [...this.#issues.keys()].every((id) => p?.conveyor.taskForIssue(id));
  }

  /**
   * Looks at the pending analysis approvals every half hour; now and then blocks a working issue in the
   * tracker and moves it back to In Progress an hour or three later.
   */
  start(): void {
    const look = () => {
      const p = this.current();
      if (p?.alive) {
        for (const record of p.conveyor.records()) {
          const issue = record.meta.trackerIssueId;
          if (issue && p.conveyor.task(record.id)?.tags.includes('working') && this.random.chance(0.03)) {
            this.#move(issue, 'state-blocked');
            this.clock.later(this.random.int(3_600_000, 3 * 3_600_000), () => this.#move(issue, 'state-in-progress'));
          }
          if (!p.conveyor.runtime.describe(record.id).endsWith('.gating')) continue;
          const view = p.conveyor.task(record.id);
          if (!view?.tags.includes('human-gate') || !this.random.chance(0.5)) continue;
          const decision = view.context.decision;
          if (issue && this.random.chance(0.5)) this.#move(issue, 'state-approved');
          else if (decision) void this.#resolve(p, decision.id);
        }
      }
      this.clock.later(30 * 60_000, look);
    };
    this.clock.later(30 * 60_000, look);
  }

  async #resolve(p: SimProcess, decisionId: string): Promise<void> {
    const res = await p.request(`/api/decisions/${decisionId}/resolve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ option: 'Approve', by: 'sim-reviewer' }),
    });
    if (p.alive) this.note(`human resolves ${decisionId}: ${res.status}`);
  }

  #move(issueId: string, state: TrackerStateId): void {
    this.tracker.move(issueId, this.#issues.get(issueId)!, state, 'sim-owner');
  }
}
