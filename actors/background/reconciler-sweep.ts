import { transition } from 'xstate';
import { stageOf, type TaskEvent } from '../../machines/index.ts';
import type { Conveyor } from '../conveyor.ts';
import type { TaskEventInput } from '../types.ts';
import type { JobRecord } from '../work/index.ts';
import type { ConfirmedChange, ReconcilerCounters } from './counters.ts';
import type { GateProbe, ProbeTask } from './gate-probe.ts';
import type { ReconcilerSettings } from './settings.ts';
import { sweepTurns, type ScannedTask, type TaskScan } from './task-scan.ts';
import type { TrackerReplay } from './tracker-replay.ts';
import { UnitErrors } from './unit-errors.ts';
import type { LogLine } from '../log.ts';

export interface ReconcilerSweepOptions {
  conveyor: Conveyor;
  scan: TaskScan;
  settings: ReconcilerSettings;
  probe: GateProbe | null;
  tracker: TrackerReplay | null;
  counters: ReconcilerCounters;
  log: LogLine;
  onChange(change: ConfirmedChange): void;
}

// Tags of tasks nothing automatic may move (SPEC R4, R5, R20).
const HANDS_OFF = ['terminal', 'escalated', 'on-hold', 'human-gate'];
const ACTIVE_JOB: ReadonlySet<JobRecord['status']> = new Set(['queued', 'starting', 'running']);
const PARALLEL_PROBES = 8;

/** The head (a pull request found) comes before the statuses read on it. */
const rank = (e: TaskEventInput): number => (e.type === 'ci.status' ? 1 : 0);

/**
 * The reconciler (SPEC R20, R21): finds tasks resting at a gate longer than their stage's grace, asks the
 * outside world read-only what a lost webhook would have said, and sends it only when the statechart would
 * advance on it; red or unknown stays silent. Then replays missed tracker transitions.
 */
export class ReconcilerSweep {
  /** When each task was last asked about; one asked without result waits a grace before it is asked again. */
  readonly #probedAt = new Map<string, number>();
  readonly #errors: UnitErrors;

  constructor(private readonly o: ReconcilerSweepOptions) {
    this.#errors = new UnitErrors('reconciler', o.log, () => o.counters.errors++);
  }

  async sweep(): Promise<void> {
    const now = this.o.conveyor.runtime.clock.now();
    this.o.counters.ticks++;
    this.o.counters.lastTickAt = now;
    if (this.o.probe) await this.#gateSide(this.o.probe, now);
    await this.o.tracker?.sweep(now);
  }

  graceOf(stage: string): number {
    return this.o.settings.stageGraceMs[stage] ?? this.o.settings.graceMs;
  }

  async #gateSide(probe: GateProbe, now: number): Promise<void> {
    const due: ScannedTask[] = [];
    const turn = sweepTurns();
    for (const record of this.o.conveyor.records()) {
      const pause = turn();
      if (pause) await pause;
      try {
        const task = this.o.scan.read(record);
        if (this.#resting(task, now)) due.push(task);
      } catch (e) {
        this.#errors.report(`task ${record.id}`, e);
      }
    }
    // The longest unasked go first, so a backlog larger than one tick's probes is worked through in turn.
    const max = this.o.settings.maxProbesPerTick;
    const picked = due.length <= max ? due : due.sort((a, b) => (this.#probedAt.get(a.id) ?? -Infinity) - (this.#probedAt.get(b.id) ?? -Infinity)).slice(0, max);
    for (let i = 0; i < picked.length; i += PARALLEL_PROBES) {
      await Promise.all(picked.slice(i, i + PARALLEL_PROBES).map((task) => this.#probe(probe, task, now)));
    }
  }

  /**
   * A head-less task heard a CI status it cannot match: asks the forge for its pull request's head now, not
   * after a grace, and tells the task the forge's facts (the head first). Only the forge names a head.
   */
  async askHead(taskId: string): Promise<void> {
    const { probe } = this.o;
    const record = this.o.conveyor.record(taskId);
    if (!probe || !record) return;
    try {
      const task = this.o.scan.read(record);
      if (task.status !== 'active' || task.context.head) return;
      const result = await probe.probe({ taskId, repo: task.meta.repo, branch: task.meta.branch, stage: task.stage, gate: 'ciGreen', head: null });
      if (result.kind !== 'facts') return this.o.log(`reconciler: task ${taskId} has no head and the forge names none: ${result.reason}`);
      for (const event of [...result.events].sort((a, b) => rank(a) - rank(b))) {
        await this.o.conveyor.send(taskId, event, { source: 'reconciler', deliveryKey: replayKey(taskId, event) });
      }
    } catch (e) {
      this.#errors.report(`task ${taskId}`, e);
    }
  }

  /** Not finished, not parked for a human, no job at work, waiting at its gate, unchanged past the grace. */
  #resting(task: ScannedTask, now: number): boolean {
    if (task.status !== 'active') this.#probedAt.delete(task.id);
    if (task.status !== 'active' || !task.tags.has('gating') || HANDS_OFF.some((t) => task.tags.has(t))) return false;
    const grace = this.graceOf(task.stage);
    if (now - task.lastChangeAt <= grace) return false;
    const asked = this.#probedAt.get(task.id);
    if (asked !== undefined && asked > task.lastChangeAt && now - asked < grace) return false;
    const job = task.context.job && this.o.conveyor.job(task.context.job.id);
    return !job || !ACTIVE_JOB.has(job.status);
  }

  async #probe(probe: GateProbe, task: ScannedTask, now: number): Promise<void> {
    try {
      this.#probedAt.set(task.id, now);
      const gate = this.o.conveyor.runtime.pipeline.stages.find((s) => s.id === task.stage)?.gate;
      if (!gate) return;
      const input: ProbeTask = { taskId: task.id, repo: task.meta.repo, branch: task.meta.branch, stage: task.stage, gate, head: task.context.head };
      const result = await probe.probe(input);
      if (result.kind !== 'facts') return;
      // A check still pending or failed keeps the gate shut whatever else is said; no dry run needed.
      if (result.events.some((e) => e.type === 'ci.status' && e.state !== 'success')) return;
      const events = [...result.events].sort((a, b) => rank(a) - rank(b));
      if (!this.#wouldAdvance(task, events, now)) return;
      await this.#deliver(task, events, now);
    } catch (e) {
      this.#errors.report(`task ${task.id}`, e);
    }
  }

  /** A dry run through the task's own statechart: green means the task would leave its stage forward. */
  #wouldAdvance(task: ScannedTask, events: TaskEventInput[], now: number): boolean {
    const { machine, pipeline } = this.o.conveyor.runtime;
    const record = this.o.conveyor.record(task.id);
    if (!record) return false;
    const persisted = record.snapshot as { value: never; context: never };
    let snapshot = machine.resolveState({ value: persisted.value, context: persisted.context });
    for (const event of events) [snapshot] = transition(machine, snapshot, { ...event, at: now } as TaskEvent);
    const order = [...pipeline.stages.map((s) => s.id), 'done'];
    return order.indexOf(stageOf(snapshot.value)) > order.indexOf(task.stage);
  }

  async #deliver(task: ScannedTask, events: TaskEventInput[], now: number): Promise<void> {
    const { conveyor } = this.o;
    const from = conveyor.runtime.describe(task.id);
    let to = from;
    for (const event of events) {
      const outcome = await conveyor.send(task.id, event, { source: 'reconciler', deliveryKey: replayKey(task.id, event) });
      if (outcome.status === 'accepted') to = outcome.to;
      // Once the task has moved, the rest of the answer is history it does not need.
      if (to !== from) break;
    }
    if (to === from) return;
    const counters = this.o.counters;
    const change: ConfirmedChange = { taskId: task.id, from, to, at: now, why: `${gateWords(events)} (no webhook said so)` };
    counters.unblockedTotal++;
    counters.lastUnblocked = change;
    this.o.onChange(change);
  }
}

function replayKey(taskId: string, e: TaskEventInput): string {
  switch (e.type) {
    case 'ci.status':
      return `reconciler:${taskId}:ci:${e.sha}:${e.context}:${e.state}`;
    case 'pr.opened':
      return `reconciler:${taskId}:pr:${e.number}:${e.sha}`;
    default:
      return `reconciler:${taskId}:${e.type}`;
  }
}

function gateWords(events: TaskEventInput[]): string {
  const ci = events.filter((e) => e.type === 'ci.status');
  const sha = ci[0]?.type === 'ci.status' ? ci[0].sha.slice(0, 12) : '';
  return ci.length > 0 ? `CI is green on ${sha}` : 'the gate is green';
}
