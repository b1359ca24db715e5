import type { Conveyor } from '../conveyor.ts';
import { SeenOnce, type ConfirmedChange, type ReconcilerCounters } from './counters.ts';
import type { TaskScan } from './task-scan.ts';
import type { TrackerClient, TrackerIssue, TrackerState } from './tracker-client.ts';
import { isTerminalGroup, repoForIssue, trackerEvent, type TrackerMeaning, type TrackerRoutingTable } from './tracker-events.ts';
import { UnitErrors } from './unit-errors.ts';
import type { LogLine } from '../log.ts';

export interface TrackerReplayOptions {
  conveyor: Conveyor;
  client: TrackerClient;
  routing: TrackerRoutingTable;
  /** Tracker projects to poll. */
  projects: readonly string[];
  scan: TaskScan;
  counters: ReconcilerCounters;
  log: LogLine;
  onChange(change: ConfirmedChange): void;
  /** Told the project of every issue seen, so the status mirror knows where an issue lives. */
  onIssue?(issueId: string, projectId: string): void;
}

type Actionable = Extract<TrackerMeaning, 'start' | 'approved' | 'rejected'>;
const ACTIONABLE: ReadonlySet<TrackerMeaning> = new Set<TrackerMeaning>(['start', 'approved', 'rejected']);
const HANDS_OFF = ['terminal', 'escalated', 'on-hold'];

/** The key that makes a replay of (issue, tracker state) happen once (SPEC R21). */
export const trackerReplayKey = (issueId: string, stateId: string) => `tracker:${issueId}:state:${stateId}:replay`;

/**
 * The tracker side of the reconciler (SPEC R21): polls each project for issues in actionable states and
 * replays what a lost webhook would have done, through the same mapping and the same atomic creation.
 */
export class TrackerReplay {
  readonly #skipped = new SeenOnce();
  readonly #deduped = new SeenOnce();
  readonly #warned = new SeenOnce(1_000);
  readonly #errors: UnitErrors;

  constructor(private readonly o: TrackerReplayOptions) {
    this.#errors = new UnitErrors('reconciler', o.log, () => o.counters.errors++);
  }

  async sweep(now: number): Promise<void> {
    for (const project of this.o.projects) {
      try {
        await this.#project(project, now);
      } catch (e) {
        this.#errors.report(`tracker project ${project}`, e);
      }
    }
  }

  async #project(project: string, now: number): Promise<void> {
    const states = await this.o.client.states(project);
    if (!states.ok) throw new Error(states.error);
    for (const state of states.value) {
      const meaning = this.#actionable(project, state);
      if (!meaning) continue;
      const issues = await this.o.client.issuesInState(project, state.id);
      if (!issues.ok) {
        this.#errors.report(`tracker state ${state.id} of project ${project}`, issues.error);
        continue;
      }
      for (const issue of issues.value) {
        try {
          this.o.onIssue?.(issue.id, issue.projectId);
          await this.#issue(issue, meaning, now);
        } catch (e) {
          this.#errors.report(`tracker issue ${issue.id}`, e);
        }
      }
    }
  }

  /** The meaning of a state worth polling; terminal groups never are, whatever their id maps to. */
  #actionable(project: string, state: TrackerState): Actionable | null {
    const known = Object.hasOwn(this.o.routing.states, state.id) ? this.o.routing.states[state.id] : undefined;
    if (!known || !ACTIONABLE.has(known.meaning)) return null;
    if (isTerminalGroup(state.group) || isTerminalGroup(known.group)) {
      if (this.#skipped.first(`${project}:${state.id}`)) {
        this.o.counters.skippedTerminalTotal++;
        this.o.log(`reconciler: tracker state ${state.name} (${state.id}) means ${known.meaning} but its group is ${state.group}: never replayed`);
      }
      return null;
    }
    return known.meaning as Actionable;
  }

  async #issue(issue: TrackerIssue, meaning: Actionable, now: number): Promise<void> {
    const { conveyor } = this.o;
    const key = trackerReplayKey(issue.id, issue.stateId);
    const existing = conveyor.taskForIssue(issue.id);
    if (meaning === 'start') {
      if (existing) return;
      if (conveyor.hasDelivery(key)) return this.#dedup(key);
      const repo = repoForIssue({ repo: issue.repo, projectId: issue.projectId }, this.o.routing);
      if (!repo) {
        if (this.#warned.first(issue.id)) this.o.log(`reconciler: tracker issue ${issue.id} is In Progress but its project names no repository`);
        return;
      }
      const created = await conveyor.createTask(
        { repo, title: issue.title, trackerIssueId: issue.id, trackerProjectId: issue.projectId, ...(issue.branch ? { branch: issue.branch } : {}) },
        { source: 'reconciler', deliveryKey: key },
      );
      if (created.created) this.#changed(created.taskId, '', now, `tracker issue ${issue.id} is In Progress (no webhook said so)`);
      return;
    }
    if (!existing || !this.#awaitsVerdict(existing, meaning)) return;
    if (conveyor.hasDelivery(key)) return this.#dedup(key);
    const event = trackerEvent(meaning, issue.id);
    if (!event) return;
    const from = conveyor.runtime.describe(existing);
    const outcome = await conveyor.send(existing, event, { source: 'reconciler', deliveryKey: key });
    if (outcome.status === 'duplicate') return this.#dedup(key);
    if (outcome.status === 'accepted' && outcome.to !== from) this.#changed(existing, from, now, `tracker issue ${issue.id} is ${meaning} (no webhook said so)`);
  }

  /** At its approval gate, parked for nobody, and the last verdict it heard is not this one. */
  #awaitsVerdict(taskId: string, meaning: Actionable): boolean {
    const record = this.o.conveyor.record(taskId);
    if (!record) return false;
    const task = this.o.scan.read(record);
    if (task.status !== 'active' || HANDS_OFF.some((t) => task.tags.has(t))) return false;
    const stage = this.o.conveyor.runtime.pipeline.stages.find((s) => s.id === task.stage);
    if (stage?.gate !== 'approval') return false;
    const history = this.o.conveyor.history(taskId);
    for (let i = history.length - 1; i >= 0; i--) {
      const entry = history[i]!;
      if (!entry.accepted) continue;
      if (entry.event.type === 'analysis.approved') return meaning !== 'approved';
      if (entry.event.type === 'analysis.rejected') return meaning !== 'rejected';
    }
    return true;
  }

  #dedup(key: string): void {
    if (this.#deduped.first(key)) this.o.counters.dedupedTotal++;
  }

  #changed(taskId: string, from: string, at: number, why: string): void {
    const to = this.o.conveyor.runtime.describe(taskId);
    if (to === from) return;
    const change: ConfirmedChange = { taskId, from, to, at, why };
    this.o.counters.unblockedTotal++;
    this.o.counters.lastUnblocked = change;
    this.o.onChange(change);
  }
}
