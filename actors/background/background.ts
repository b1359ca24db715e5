import { performance } from 'node:perf_hooks';
import { createActor, fromPromise, type Actor, type AnyActorLogic } from 'xstate';
import {
  CHILD_NAMES, supervisor, sweepLoop,
  type ChildName, type SupervisorEmitted, type SupervisorMachine, type SweepInput, type SweepOutput,
} from '../../machines/index.ts';
import type { Clock } from '../clock.ts';
import type { BackgroundControl, Conveyor } from '../conveyor.ts';
import { exitFilePath, isAlive, leadsGroup, readExitFile, terminate, type JobExit } from '../executors/index.ts';
import { Outbox, ProgressComments } from '../notifications/index.ts';
import type { ForgeClient } from '../effects/index.ts';
import type { ActivityFeed } from '../agents/index.ts';
import type { JobRecord } from '../work/index.ts';
import { reaperCounters, reconcilerCounters, type ConfirmedChange } from './counters.ts';
import { Finalizers } from './finalizers.ts';
import type { GateProbe } from './gate-probe.ts';
import { loopTimer } from './loop-timer.ts';
import { ReaperSweep } from './reaper-sweep.ts';
import { ReconcilerSweep } from './reconciler-sweep.ts';
import { ceilingProblem, resolveBackgroundSettings, type BackgroundConfig, type BackgroundSettings } from './settings.ts';
import { TaskScan } from './task-scan.ts';
import type { TrackerClient } from './tracker-client.ts';
import type { TrackerRoutingTable } from './tracker-events.ts';
import { TrackerMirror } from './tracker-mirror.ts';
import { TrackerReplay } from './tracker-replay.ts';
import type { LogLine } from '../log.ts';
import { RetentionLoop, type RetentionPolicy } from '../retention/index.ts';

export interface BackgroundOptions {
  conveyor: Conveyor;
  /** The `reconciler`, `reaper` and `supervisor` sections of the configuration. */
  config?: BackgroundConfig;
  /** The longest an agent job may run; the reaper's ceiling must exceed it plus the grace. Default: the pipeline's job timeout. */
  longestJobMs?: number;
  /** The tracker to poll (SPEC R21) and to mirror stages onto; without it the reconciler works the gate side only. */
  tracker?: { client: TrackerClient; routing: TrackerRoutingTable; projects: readonly string[] } | null;
  probe?: GateProbe | null;
  /** The forge whose pull requests get a progress comment; the workbench's by default. */
  forge?: ForgeClient | null;
  /** Progress comments on issues and pull requests (off unless enabled), and the least time between two writes of one comment. */
  progress?: { enabled: boolean; minIntervalMs?: number };
  /** What running jobs do; the workbench's by default. */
  activity?: ActivityFeed | null;
  outbox?: Outbox;
  finalizers?: Finalizers;
  alive?: (pid: number, startedAt?: number) => boolean;
  /** Time between SIGTERM and SIGKILL when the reaper kills a job's process group (`limits.killGraceMs`); default 3 s. */
  killGraceMs?: number;
  kill?: (pid: number) => Promise<void>;
  /** How a job's agent ended as its relay recorded it; by default read from the exit file beside the job's log. */
  recordedExit?: (job: JobRecord) => JobExit | null;
  /** Whether the scheduler holds a job's request; by default the conveyor's workbench is asked (null without one). */
  holds?: (jobId: string) => boolean | null;
  clock?: Clock;
  log?: LogLine;
  /** A persisted supervisor snapshot to restore instead of starting afresh. */
  snapshot?: unknown;
  /** Keeps the supervisor's latest snapshot (restart counts, degraded mark, loop deadlines) across boots. */
  persist?: (snapshot: unknown) => Promise<void>;
  /** How often finished tasks are archived and delivery keys forgotten (SPEC R40); without it nothing is. */
  retention?: (RetentionPolicy & { intervalMs: number }) | null;
  /** Replaces a loop's logic wholesale (a loop that crashes, to exercise the supervisor). */
  loops?: Partial<Record<ChildName, AnyActorLogic>>;
}

/** The exit a job's relay wrote beside its log; an unreadable record is no record (the reaper then goes by liveness). */
function relayExit(job: JobRecord): JobExit | null {
  const read = readExitFile(exitFilePath(job.logPath));
  return read.kind === 'ok' ? read.exit : null;
}

/** The background actors refuse to start: the message names the setting and the numbers. */
export class BackgroundStartError extends Error {
  override readonly name = 'BackgroundStartError';
}

/**
 * Runs the supervisor actor with the reconciler and the reaper as its children (SPEC R19–R24), their sweeps,
 * the notification outbox and the tracker status mirror. One options object; start() and stop() are idempotent.
 */
export class Background implements BackgroundControl {
  readonly settings: BackgroundSettings;
  readonly counters = { reconciler: reconcilerCounters(), reaper: reaperCounters() };
  readonly finalizers: Finalizers;
  readonly outbox: Outbox;
  readonly reconciler: ReconcilerSweep;
  readonly reaper: ReaperSweep;
  readonly mirror: TrackerMirror | null;
  readonly retention: RetentionLoop | null;
  readonly progress: ProgressComments | null;
  readonly #o: BackgroundOptions;
  readonly #clock: Clock;
  readonly #log: LogLine;
  readonly #machine: SupervisorMachine;
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #issueProjects = new Map<string, string>();
  readonly #longestJobMs: number;
  #actor: Actor<SupervisorMachine> | null = null;
  #stopping: Promise<void> | null = null;

  constructor(o: BackgroundOptions) {
    this.#o = o;
    const rt = o.conveyor.runtime;
    this.#clock = o.clock ?? rt.clock;
    const log = o.log ?? (() => undefined);
    this.#log = log;
    this.#longestJobMs = o.longestJobMs ?? rt.pipeline.jobTimeoutMs;
    this.settings = resolveBackgroundSettings(o.config ?? {}, { stages: rt.pipeline.stages.map((s) => s.id), longestJobMs: this.#longestJobMs, warn: log });
    this.finalizers = o.finalizers ?? new Finalizers();
    this.outbox = o.outbox ?? new Outbox({ store: rt, clock: this.#clock, bootId: rt.bootId, log });
    const scan = new TaskScan(rt.machine, (id) => o.conveyor.lastAcceptedAt(id));
    const onChange = (change: ConfirmedChange) => this.#notify('change', change);
    const tracker = o.tracker
      ? new TrackerReplay({
          conveyor: o.conveyor, client: o.tracker.client, routing: o.tracker.routing, projects: o.tracker.projects, scan,
          counters: this.counters.reconciler, log, onChange, onIssue: (issue, project) => this.#issueProjects.set(issue, project),
        })
      : null;
    this.reconciler = new ReconcilerSweep({ conveyor: o.conveyor, scan, settings: this.settings.reconciler, probe: o.probe ?? null, tracker, counters: this.counters.reconciler, log, onChange });
    this.reaper = new ReaperSweep({
      conveyor: o.conveyor, scan, settings: this.settings.reaper, finalizers: this.finalizers, counters: this.counters.reaper, log, onChange,
      alive: o.alive ?? isAlive,
      kill: o.kill ?? ((pid) => terminate(pid, o.killGraceMs ?? 3_000, leadsGroup(pid))),
      recordedExit: o.recordedExit ?? relayExit,
      holds: o.holds ?? ((jobId) => o.conveyor.workbench?.scheduler.holds(jobId) ?? null),
    });
    const mirrorStates = this.settings.reconciler.mirrorStates;
    this.mirror = o.tracker && Object.keys(mirrorStates).length > 0
      ? new TrackerMirror({ runtime: rt, client: o.tracker.client, states: mirrorStates, projectOf: (issue, repo, recorded) => recorded ?? this.#projectOf(issue, repo), log })
      : null;
    this.retention = o.retention
      ? new RetentionLoop({ policy: o.retention, clock: this.#clock, log, sweep: (policy) => this.#track(o.conveyor.retain(policy)) })
      : null;
    const forge = o.forge === undefined ? (o.conveyor.workbench?.effects.forge ?? null) : o.forge;
    this.progress = o.progress?.enabled === true && (o.tracker || forge)
      ? new ProgressComments({
          runtime: rt, clock: this.#clock, forge, activity: o.activity === undefined ? (o.conveyor.workbench?.activity ?? null) : o.activity, minIntervalMs: o.progress?.minIntervalMs, log,
          tracker: o.tracker ? { client: o.tracker.client, projectOf: (issue, repo, recorded) => recorded ?? this.#projectOf(issue, repo) } : null,
        })
      : null;
    this.#machine = this.#provide();
  }

  askHead(taskId: string): void {
    void this.#track(this.reconciler.askHead(taskId)).catch(() => undefined);
  }

  #provide(): SupervisorMachine {
    const timer = loopTimer(this.#clock);
    const sweep = (name: ChildName, run: () => Promise<void>) =>
      fromPromise<SweepOutput, SweepInput>(async () => {
        const startedAt = performance.now();
        try {
          await this.#track(run());
        } catch (e) {
          this.counters[name].errors++;
          this.#o.conveyor.metrics.sweep(name, performance.now() - startedAt, false);
          this.#log(`${name}: sweep failed, the loop goes on: ${(e as Error).stack ?? String(e)}`, { level: 'error' });
          throw e;
        }
        this.#o.conveyor.metrics.sweep(name, performance.now() - startedAt, true);
        return { at: this.#clock.now() };
      });
    const loop = (name: ChildName, run: () => Promise<void>) => this.#o.loops?.[name] ?? sweepLoop.provide({ actors: { timer, sweep: sweep(name, run) } });
    return supervisor.provide({
      actors: {
        reconciler: loop('reconciler', () => this.reconciler.sweep()),
        reaper: loop('reaper', () => this.reaper.sweep()),
        timer,
        now: fromPromise<number>(() => Promise.resolve(this.#clock.now())),
      } as never,
    });
  }

  /** Starts the supervisor (and through it both loops), the outbox and the mirror; refuses a ceiling too low (SPEC R23). */
  start(): void {
    if (this.#actor || this.#stopping) return;
    const problem = ceilingProblem(this.settings.reaper, this.#longestJobMs);
    if (problem) throw new BackgroundStartError(problem);
    const { reconciler, reaper, supervisor: s } = this.settings;
    const input = {
      now: this.#clock.now(),
      children: { reconciler: { intervalMs: reconciler.intervalMs, enabled: reconciler.enabled }, reaper: { intervalMs: reaper.intervalMs, enabled: reaper.enabled } },
      backoff: { baseMs: s.backoffBaseMs, maxMs: s.backoffMaxMs },
      window: { ms: s.windowMs, maxRestarts: s.maxRestarts },
    };
    // A snapshot taken under other settings (intervals, backoff, window) is not restored: the configuration wins.
    const kept = this.#o.snapshot as { context?: { children?: unknown; backoff?: unknown; window?: unknown } } | undefined;
    const sameSettings = kept !== undefined && JSON.stringify([kept.context?.children, kept.context?.backoff, kept.context?.window]) === JSON.stringify([input.children, input.backoff, input.window]);
    let actor = sameSettings
      ? createActor(this.#machine, { snapshot: this.#o.snapshot } as never)
      : createActor(this.#machine, { input });
    if (actor.getSnapshot().status === 'error') {
      // The loops hold no task state: a snapshot this build cannot read costs only the restart history.
      this.#log('supervisor: the persisted supervisor snapshot does not fit this build; starting afresh', { level: 'warn' });
      actor = createActor(this.#machine, { input });
    }
    if (this.#o.persist) this.#persistOnChange(actor, this.#o.persist);
    actor.on('*', (e) => this.#onEmitted(e as SupervisorEmitted));
    actor.subscribe({ error: (e) => this.#log(`supervisor: stopped by an error it could not handle: ${(e as Error).message}`, { level: 'error' }) });
    this.#actor = actor;
    this.outbox.start();
    this.mirror?.start();
    this.retention?.start();
    this.progress?.start();
    actor.start();
    this.#log(`supervisor: started reconciler (${reconciler.enabled ? `every ${reconciler.intervalMs} ms` : 'off'}) and reaper (${reaper.enabled ? `every ${reaper.intervalMs} ms` : 'off'}, ceiling ${reaper.hardCeilingMs} ms)`);
  }

  /**
   * Writes the supervisor's snapshot after its transitions and its loops' (a loop's next deadline lives in
   * the loop's own snapshot): the latest one, one write at a time, read once the transition is over.
   */
  #persistOnChange(actor: Actor<SupervisorMachine>, persist: (s: unknown) => Promise<void>): void {
    let writing = false;
    let again = false;
    const write = async () => {
      if (writing) return void (again = true);
      writing = true;
      do {
        again = false;
        if (actor.getSnapshot().status !== 'active') break;
        await persist(actor.getPersistedSnapshot()).catch((e: unknown) => this.#log(`supervisor: could not persist its snapshot: ${(e as Error).message}`, { level: 'error' }));
      } while (again);
      writing = false;
    };
    actor.system.inspect((e) => {
      if (e.type === '@xstate.snapshot') queueMicrotask(() => void write());
    });
  }

  /** Stops the loops, lets a sweep in flight finish, then the mirror and the outbox. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#actor?.stop();
      await this.retention?.stop();
      await this.settled();
      await this.mirror?.stop();
      await this.progress?.stop();
      await this.outbox.stop();
    })();
    return this.#stopping;
  }

  /** Resolves once no sweep or notification started so far is still running. */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    // Let the machine take the sweep's done event before the caller looks.
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** The supervisor's snapshot as it would be persisted. */
  persisted(): unknown {
    return this.#actor?.getPersistedSnapshot();
  }

  setEnabled(name: string, enabled: boolean): ReturnType<BackgroundControl['setEnabled']> {
    const child = CHILD_NAMES.find((c) => c === name);
    if (!child) return { ok: false, message: `background: no loop named ${name} (one of: ${CHILD_NAMES.join(', ')})` };
    if (!this.#actor) return { ok: false, message: 'background: not running' };
    this.#actor.send({ type: enabled ? 'child.enable' : 'child.disable', name: child, at: this.#clock.now() });
    this.#log(`supervisor: ${child} switched ${enabled ? 'on' : 'off'} by an operator`);
    return { ok: true, name: child, enabled, state: this.#loopState(child) };
  }

  status() {
    const snap = this.#actor?.getSnapshot();
    const ctx = snap?.context;
    const restarts = ctx ? ctx.restarts.reconciler + ctx.restarts.reaper : 0;
    const degraded = snap?.hasTag('degraded') ?? false;
    return {
      reconciler: { ...this.counters.reconciler, enabled: ctx?.children.reconciler.enabled ?? this.settings.reconciler.enabled, state: this.#loopState('reconciler') },
      reaper: { ...this.counters.reaper, enabled: ctx?.children.reaper.enabled ?? this.settings.reaper.enabled, state: this.#loopState('reaper'), hardCeilingMs: this.settings.reaper.hardCeilingMs },
      supervisor: {
        state: !snap || snap.status !== 'active' ? 'stopped' : degraded ? 'degraded' : 'running',
        restarts,
        degraded,
        byChild: ctx?.restarts ?? { reconciler: 0, reaper: 0 },
        lastErrors: ctx?.lastError ?? { reconciler: null, reaper: null },
      },
      notifications: { ...this.outbox.stats },
      mirror: this.mirror ? { ...this.mirror.stats } : null,
      progressComments: this.progress ? { ...this.progress.stats } : null,
    };
  }

  /** idle, sweeping or disabled while the loop runs; crashed or backoff while the supervisor restarts it. */
  #loopState(name: ChildName): string {
    const snap = this.#actor?.getSnapshot();
    if (!snap || snap.status !== 'active') return 'stopped';
    const region = (snap.value as Record<string, string>)[name];
    if (region !== 'running') return region ?? 'stopped';
    const child = snap.children[name] as Actor<AnyActorLogic> | undefined;
    const value = child?.getSnapshot().value;
    return typeof value === 'string' ? value : 'running';
  }

  #projectOf(issueId: string, repo: string): string | undefined {
    const known = this.#issueProjects.get(issueId);
    if (known) return known;
    const projects = this.#o.tracker?.projects ?? [];
    const routes = this.#o.tracker?.routing.projectRepos ?? {};
    const forRepo = projects.filter((p) => routes[p] === repo);
    if (forRepo.length === 1) return forRepo[0];
    return projects.length === 1 ? projects[0] : undefined;
  }

  #onEmitted(e: SupervisorEmitted): void {
    switch (e.type) {
      case 'supervisor.restart':
        this.#log(`supervisor: ${e.name} failed (${e.error ?? 'unknown error'}); restarting it in ${e.delayMs} ms`, { level: 'warn' });
        return;
      case 'supervisor.degraded':
        this.#notify('degraded', e);
        return;
      case 'supervisor.recovered':
        this.#notify('recovered', e);
        return;
      default: {
        const never: never = e;
        throw new Error(`background: unknown supervisor emission ${JSON.stringify(never)}`);
      }
    }
  }

  #notify(kind: 'change' | 'degraded' | 'recovered', payload: ConfirmedChange | SupervisorEmitted): void {
    const work = (async () => {
      if (kind === 'change') {
        const c = payload as ConfirmedChange;
        const title = this.#o.conveyor.runtime.meta(c.taskId)?.title;
        const text = `task ${c.taskId}${title ? ` (${title})` : ''}: ${c.from || 'new'} → ${c.to}: ${c.why}`;
        return this.outbox.notify({ kind: 'background.change', text, taskId: c.taskId });
      }
      const e = payload as Extract<SupervisorEmitted, { type: 'supervisor.degraded' | 'supervisor.recovered' }>;
      if (e.type === 'supervisor.recovered') return this.outbox.notify({ kind: 'supervisor.recovered', text: 'supervisor: background loops are healthy again' });
      const ctx = this.#actor?.getSnapshot().context;
      const text = `supervisor: degraded: ${e.restarts} restarts within ${e.windowMs} ms (limit ${e.maxRestarts})`;
      await this.#o.conveyor.runtime.write([{
        kind: 'put', collection: 'alerts', id: `supervisor-degraded:${e.at}`,
        value: { kind: 'supervisor_degraded', at: e.at, restarts: e.restarts, windowMs: e.windowMs, maxRestarts: e.maxRestarts, lastErrors: ctx?.lastError ?? null },
      }]);
      await this.outbox.notify({ kind: 'supervisor.degraded', text });
    })().catch((err: unknown) => this.#log(`background: notification failed: ${(err as Error).message}`, { level: 'warn' }));
    void this.#track(work);
  }

  #track<T>(work: Promise<T>): Promise<T> {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work)).catch(() => undefined);
    return work;
  }
}
