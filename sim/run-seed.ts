import { createHash } from 'node:crypto';
import { stageOf, defaultPipeline } from '../machines/index.ts';
import type { CommittedTransition } from '../actors/index.ts';
import { SimClock } from './clock.ts';
import { SimDeploys } from './deploys.ts';
import { SimDisk } from './disk.ts';
import { Faults, type FaultRates } from './faults.ts';
import { SimHuman } from './human.ts';
import { REPO, SimForge } from './forge.ts';
import { SimGit } from './git.ts';
import { SimProcess, type SimWorld } from './process.ts';
import { SimRandom } from './random.ts';
import { SimTracker } from './tracker.ts';
import { rewrittenAfterCrash, trackerViolations } from './tracker-writes.ts';
import { Acknowledged } from './watched-store.ts';
import { Webhooks, type Delivery } from './webhooks.ts';

export interface RunOptions {
  seed: number;
  tasks: number;
  /** World events in the fault phase; after it faults stop and every task must settle. */
  steps: number;
  rates: FaultRates;
  /** Simulated time each task has, once faults stop, to reach done, cancelled or a human. */
  settleLimitMs: number;
  /** Fault ordinals switched off (shrinking). */
  mask?: ReadonlySet<number>;
}

export interface RunResult {
  seed: number;
  steps: number;
  simulatedMs: number;
  faults: Record<string, number>;
  schedule: { ordinal: number; kind: string }[];
  violations: string[];
  crashes: number;
  tasks: number;
  /** Transitions committed by tasks. */
  taskSteps: number;
  /** Status writes the tracker performed, those of one change made again by a later boot (allowed), and each issue's final state. */
  tracker: { writes: number; rewrittenAfterCrash: number; states: Record<string, string | null> };
  /** Per task, how long it took to settle once faults stopped (ms), or null if it did not. */
  settleMs: (number | null)[];
  trace: string[];
  digest: string;
}

const START = Date.UTC(2026, 0, 5, 9);
/** Tags of states where a task waits for a human, who has been asked (decision, escalation, hold). */
const HUMAN = ['terminal', 'escalated', 'awaiting-decision', 'on-hold', 'failed'];
const ORDER = [...defaultPipeline.stages.map((s) => s.id), 'done'];
const FACTS_WITH_SHA = new Set(['ci.status', 'review.verdict', 'test.result', 'pr.merged']);

/** Lets every promise chain the last world event started run to its next wait on the world. */
async function settle(activity: () => number): Promise<void> {
  let last: number;
  let turns = 0;
  do {
    last = activity();
    await new Promise<void>((resolve) => setImmediate(resolve));
  } while (last !== activity() && ++turns < 50);
}

/** Runs one seed: conveyor against the simulated world, crashes and all; returns what it saw. */
export async function runSeed(o: RunOptions): Promise<RunResult> {
  const root = new SimRandom(o.seed);
  const clock = new SimClock(START);
  const trace: string[] = [];
  const note = (line: string) => trace.push(`${((clock.now() - START) / 1000).toFixed(3)} ${line}`);
  const faults = new Faults(root.fork(), o.rates, o.mask, note);
  const random = root.fork();
  const disk = new SimDisk(root.fork());
  const violations: string[] = [];
  const violate = (what: string) => {
    note(`VIOLATION ${what}`);
    violations.push(what);
  };
  let current = null as SimProcess | null;
  const webhooks = new Webhooks(clock, random, faults, (d) => deliver(d));
  const forge = new SimForge(clock, random, faults, webhooks);
  const tracker = new SimTracker(clock, random, faults, webhooks, note);
  const world: SimWorld = { clock, random, faults, disk, forge, tracker, git: new SimGit(clock, random, faults, forge), deploys: new SimDeploys(clock, random, faults), acked: new Acknowledged() };
  let activity = 0;
  const bump = () => activity++;
  disk.faults = {
    beforeWrite: () => (bump(), faults.roll('crash') ? 'crash' : faults.roll('enospc') ? 'ENOSPC' : faults.roll('eio') ? 'EIO' : null),
    beforeSync: () => (bump(), faults.roll('crash') ? 'crash' : faults.roll('eio') ? 'EIO' : null),
  };
  disk.onCrash = () => {
    if (current) current.alive = false;
  };
  const heads = new Map<string, string | null>();
  const headOf = (p: SimProcess, taskId: string) => (p.conveyor.record(taskId)?.snapshot as { context?: { head?: { sha: string } | null } } | undefined)?.context?.head?.sha ?? null;

  const watch = (p: SimProcess) => (t: CommittedTransition) => {
    if (!p.alive) return;
    taskSteps++;
    note(`${t.taskId} ${t.event.type}${"reason" in t.event && t.event.reason ? ` (${String(t.event.reason)})` : ""} ${t.from || "new"} → ${t.to}`);
    const before = heads.get(t.taskId) ?? null;
    heads.set(t.taskId, headOf(p, t.taskId));
    const sha = (t.event as { sha?: string }).sha;
    const advanced = ORDER.indexOf(stageOf(t.to as never) ?? t.to) > ORDER.indexOf(t.from.split('.')[0] ?? '');
    // A task that knows no head yet adopts the sha it hears of: that must be the branch's head in the world.
    const head = before ?? forge.headOf(p.conveyor.record(t.taskId)?.meta.branch ?? '');
    if (sha !== undefined && FACTS_WITH_SHA.has(t.event.type) && t.from !== '' && advanced && sha !== head) {
      violate(`stale sha: ${t.taskId} took ${t.event.type} on ${sha.slice(0, 8)} while its head was ${head?.slice(0, 8) ?? 'unknown'}, ${t.from} → ${t.to}`);
    }
  };

  let crashes = 0;
  let taskSteps = 0;
  let boots = 0;
  const open = async (): Promise<void> => {
    for (let tries = 0; ; tries++) {
      const p = new SimProcess(world, ++boots);
      current = p;
      const started: { outcome: 'pending' | 'ok' | Error } = { outcome: 'pending' };
      void p.start().then(() => (started.outcome = 'ok'), (e: unknown) => (started.outcome = e as Error));
      await settle(() => activity + clock.pending());
      if (!p.alive) {
        note('crashed while opening');
        crash();
        continue;
      }
      const outcome = started.outcome;
      if (outcome instanceof Error) {
        // A disk error while opening is retried, as an operator would; a refusal to open is a violation.
        if ((outcome as { code?: string }).code === 'ENOSPC' || /EIO|ENOSPC/.test(outcome.message)) {
          note(`open failed: ${outcome.message}`);
          p.alive = false;
          clock.dropProcessTimers();
          if (tries < 20) continue;
        }
        violate(`conveyor cannot reopen after a crash: ${outcome.message}`);
        return;
      }
      if (outcome === 'pending') {
        violate('conveyor did not finish opening');
        return;
      }
      note(`opened (boot ${p.incarnation})`);
      for (const problem of world.acked.check(p.store)) violate(problem);
      for (const record of p.conveyor.records()) heads.set(record.id, headOf(p, record.id));
      p.conveyor.runtime.onCommitted(watch(p));
      return;
    }
  };

  const deliver = (d: Delivery) => {
    const p = current;
    if (!p?.alive) return note(`delivery ${d.id} refused: conveyor is down`);
    void p.request(d.path, { method: 'POST', headers: d.headers, body: d.body }).then(
      (res) => {
        if (!p.alive) return;
        const outcome = (res.body as { outcome?: { status?: string } } | null)?.outcome?.status ?? (res.body as { error?: { code?: string } } | null)?.error?.code;
        note(`delivery ${d.id} ${res.status} ${outcome}`);
      },
      (e: unknown) => p.alive && note(`delivery ${d.id} failed: ${(e as Error).message}`),
    );
  };

  const crashedAt = new WeakSet<SimProcess>();
  const crash = () => {
    crashes++;
    if (current) {
      current.alive = false;
      crashedAt.add(current);
    }
    note('crash');
    clock.dropProcessTimers();
    disk.crash();
  };

  await open();
  const human = new SimHuman(clock, random, tracker, () => current, note);
  for (let i = 1; i <= o.tasks; i++) human.openIssue(`issue-${i}`, REPO, random.int(0, 30 * 60_000));
  human.start();

  const settledAt = new Map<string, number>();
  const taskIds = () => [...(current?.conveyor.records() ?? [])].map((r) => r.id);
  const settledNow = (id: string) => {
    const view = current?.conveyor.task(id);
    return !!view && HUMAN.some((t) => view.tags.includes(t));
  };
  let step = 0;
  let faultsEndAt: number | null = null;
  let seenSteps = -1;
  while (violations.length === 0) {
    if (faultsEndAt === null && step >= o.steps) {
      faults.active = false;
      faultsEndAt = clock.now();
      note('faults stop');
    }
    if (faultsEndAt !== null && (taskSteps !== seenSteps || clock.now() - faultsEndAt > o.settleLimitMs)) {
      seenSteps = taskSteps;
      for (const id of taskIds()) if (!settledAt.has(id) && settledNow(id)) settledAt.set(id, clock.now() - faultsEndAt);
      if (human.allOpened() && taskIds().every((id) => settledAt.has(id))) break;
      if (clock.now() - faultsEndAt > o.settleLimitMs) {
        for (const id of taskIds()) if (!settledAt.has(id)) violate(`stuck: task ${id} is in ${current?.conveyor.runtime.describe(id)} ${Math.round(o.settleLimitMs / 3_600_000)} h after faults stopped`);
        break;
      }
    }
    if (faults.active && faults.roll('crash')) crash();
    if (current?.alive) {
      if (!clock.runNext(Infinity)) break;
      step++;
      await settle(() => activity + clock.pending());
    }
    if (current && !current.alive) {
      // Died in a disk operation: the same power loss as a crash between steps.
      if (!crashedAt.has(current)) crash();
      await open();
    }
  }
  if (violations.length === 0) {
    for (const [branch, n] of forge.merges) if (n > 1) violate(`merged twice: ${branch} (${n} merges)`);
    for (const [key, n] of world.deploys.performed) if (n > 1) violate(`deployed twice: ${key} (${n} deploys)`);
    for (const problem of trackerViolations(tracker.performed)) violate(problem);
  }
  const ids = taskIds();
  return {
    seed: o.seed,
    steps: step,
    simulatedMs: clock.now() - START,
    faults: { ...faults.fired },
    schedule: faults.schedule,
    violations,
    crashes,
    taskSteps,
    tasks: ids.length,
    settleMs: ids.map((id) => settledAt.get(id) ?? null),
    tracker: {
      writes: tracker.performed.length,
      rewrittenAfterCrash: rewrittenAfterCrash(tracker.performed),
      states: Object.fromEntries(Array.from({ length: o.tasks }, (_, i) => [`issue-${i + 1}`, tracker.stateOf(`issue-${i + 1}`)])),
    },
    trace,
    digest: createHash('sha256').update(trace.join('\n')).digest('hex').slice(0, 16),
  };
}

