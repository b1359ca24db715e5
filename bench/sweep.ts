// Background sweeps at 10,000 tasks: one reconciler tick and one reaper tick (ms, target <= 20 each), and the
// webhook intake's p99 latency with both loops sweeping every 100 ms against without them (target ratio <= 1.5).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { ServerType } from '@hono/node-server';
import { Background, Conveyor, type GateProbe, type JobRecord } from '../actors/index.ts';
import { createApp } from '../server/app.ts';
import { defaultTrackerRouting } from '../server/default-tracker.ts';
import { EmbeddedStore, type StoreRecord, type TaskRecord } from '../store/index.ts';
import type { LoadOrder, LoadResult } from './support/autocannon-worker.ts';
import { close, listen, load } from './support/http-load.ts';

const TASKS = 10_000;
const TICKS = 20;
const CONNECTIONS = 20;
const PHASE_SEC = 6;
const REPO = 'bench/shop';
const FORGE_SECRET = 'bench-forge-secret';

/** Where the 10,000 tasks rest, out of every 200: the shape of a busy pipeline with few agents at work. */
const MIX: [kind: Kind, per200: number][] = [['gating', 120], ['human', 40], ['queued', 20], ['running', 1], ['held', 9], ['done', 10]];
type Kind = 'gating' | 'human' | 'queued' | 'running' | 'held' | 'done';

// The running jobs are this very process, alive and started when it did, so liveness checks are real ones.
const PROCESS_STARTED_AT = Date.now() - Math.round(process.uptime() * 1000);

const round = (n: number, digits = 2): number => Number(n.toFixed(digits));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

type Persisted = { status: string; value: unknown; context: Record<string, unknown>; children: Record<string, unknown> };

/** A task record of the given kind, from a real persisted snapshot with its state and context adjusted. */
function clone(template: Persisted, kind: Kind, i: number, now: number): { task: TaskRecord; job: JobRecord | null } {
  const id = `t${i.toString(36).padStart(6, '0')}`;
  const branch = `conveyor/${id}`;
  const sha = i.toString(16).padStart(40, '0');
  const job = { id: `${id}.j1`, attempt: 1 };
  const dev = (sub: unknown) => ({ active: { development: sub } });
  const states: Record<Kind, { value: unknown; status: string; extra: Record<string, unknown> }> = {
    gating: { value: dev('gating'), status: 'active', extra: { head: { sha, pr: 1 }, ci: { 'ci/build': { state: 'pending' } } } },
    human: { value: { active: { analysis: 'gating' } }, status: 'active', extra: {} },
    queued: { value: dev({ working: 'queued' }), status: 'active', extra: { job } },
    running: { value: dev({ working: 'running' }), status: 'active', extra: { job: { ...job, pid: process.pid, startedAt: PROCESS_STARTED_AT } } },
    held: { value: 'onHold', status: 'active', extra: { hold: { reason: 'bench' } } },
    done: { value: 'done', status: 'done', extra: {} },
  };
  const s = states[kind];
  const snapshot = { ...template, status: s.status, value: s.value, children: {}, context: { ...template.context, id, branch, ...s.extra } };
  const task: TaskRecord = { id, machineId: 'task', version: 1, rev: 1, meta: { repo: REPO, title: `Bench ${i}`, branch, createdAt: now }, snapshot };
  const record = (status: JobRecord['status']): JobRecord => ({
    id: job.id, taskId: id, stage: 'development', agent: 'developer', repo: REPO, attempt: 1, status, requestedAt: now, bootId: 'bench',
    logPath: '/dev/null', ...(status === 'running' ? { pid: process.pid, startedAt: PROCESS_STARTED_AT } : {}),
  });
  return { task, job: kind === 'queued' ? record('queued') : kind === 'running' ? record('running') : null };
}

async function populate(store: EmbeddedStore, conveyor: Conveyor): Promise<string[]> {
  // One real task gives the snapshot shape (history value, context fields) every clone starts from.
  const { taskId } = await conveyor.createTask({ repo: REPO, title: 'template' }, { source: 'operator' });
  await conveyor.runtime.committed(taskId);
  const template = conveyor.record(taskId)!.snapshot as Persisted;
  const now = conveyor.runtime.clock.now() - 3_600_000;
  const kinds = MIX.flatMap(([kind, n]) => Array<Kind>(n).fill(kind));
  const humans: string[] = [];
  for (let start = 0; start < TASKS; start += 1_000) {
    const records: StoreRecord[] = [];
    for (let i = start; i < Math.min(TASKS, start + 1_000); i++) {
      const kind = kinds[i % kinds.length]!;
      const { task, job } = clone(template, kind, i, now);
      records.push({ kind: 'task', task, expectedRev: null });
      records.push({ kind: 'history', taskId: task.id, entry: { at: now, source: 'operator', event: { type: 'task.created' }, accepted: true, from: '', to: 'bench' } });
      if (job) records.push({ kind: 'put', collection: 'jobs', id: job.id, value: job });
      if (kind === 'human') humans.push(task.id);
    }
    await store.commit(records);
  }
  for (const record of store.listTasks()) conveyor.runtime.index.update(record);
  return humans;
}

async function ticks(sweep: () => Promise<void>): Promise<{ cold: number; warm: number; max: number }> {
  const times: number[] = [];
  for (let i = 0; i < TICKS; i++) {
    const start = performance.now();
    await sweep();
    times.push(performance.now() - start);
  }
  const warm = times.slice(1);
  return { cold: times[0]!, warm: median(warm), max: Math.max(...warm) };
}



/** Pending CI for every head it is asked about: the answer of a forge where nothing was missed. */
const pendingProbe: GateProbe = {
  probe: (t) => Promise.resolve(t.head ? { kind: 'facts', events: [{ type: 'ci.status', sha: t.head.sha, state: 'pending', context: 'ci/build' }] } : { kind: 'unknown', reason: 'no head' }),
};

/** Measures one tick of each sweep at 10,000 tasks and the intake p99 with and without sweeps; about a minute. */
export async function run(): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-bench-sweep-'));
  const store = new EmbeddedStore({ dir, checkpointEvery: 1e12, checkpointIntervalMs: 1e12 });
  const conveyor = new Conveyor({ store });
  let server: ServerType | null = null;
  let background: Background | null = null;
  try {
    await conveyor.start();
    const humans = await populate(store, conveyor);
    const config = {
      reconciler: { intervalMs: 100, graceMs: 0, maxProbesPerTick: 50 },
      reaper: { intervalMs: 100, finalizeGraceMs: 60_000, hardCeilingMs: 4 * 3_600_000 },
    };
    const measured = new Background({ conveyor, config, probe: pendingProbe });
    const reconciler = await ticks(() => measured.reconciler.sweep());
    const reaper = await ticks(() => measured.reaper.sweep());

    const app = createApp({ conveyor, apiToken: 'bench-api-token', trackerSecret: 'bench-tracker-secret', forgeSecret: FORGE_SECRET, tracker: defaultTrackerRouting });
    const intake = await listen(app.fetch);
    server = intake.server;
    const targets = humans.map((id, i) => ({ branch: conveyor.record(id)!.meta.branch, sha: `f${i.toString(16).padStart(39, '0')}` }));
    const order = (tag: string, durationSec: number): LoadOrder =>
      ({ url: `${intake.url}/webhooks/forge`, connections: CONNECTIONS, durationSec, secret: FORGE_SECRET, repo: REPO, targets, tag });
    await load(order('warm', 2));
    // Alternating phases, so a drift of the machine's load weighs on both sides alike.
    const quiet: LoadResult[] = [];
    const sweeping: LoadResult[] = [];
    for (let round = 0; round < 2; round++) {
      quiet.push(await load(order(`quiet-${round}`, PHASE_SEC)));
      background = new Background({ conveyor, config, probe: pendingProbe });
      background.start();
      sweeping.push(await load(order(`sweeping-${round}`, PHASE_SEC)));
      await background.stop();
    }
    const sweeps = background?.counters ?? measured.counters;
    const p99 = (rs: LoadResult[]) => rs.reduce((sum, r) => sum + r.p99, 0) / rs.length;
    const rps = (rs: LoadResult[]) => rs.reduce((sum, r) => sum + r.rps, 0) / rs.length;
    return {
      tasks: TASKS,
      reconciler_tick_ms: round(reconciler.warm),
      reconciler_tick_max_ms: round(reconciler.max),
      reconciler_first_tick_ms: round(reconciler.cold),
      reaper_tick_ms: round(reaper.warm),
      reaper_tick_max_ms: round(reaper.max),
      reaper_first_tick_ms: round(reaper.cold),
      ingest_p99_quiet_ms: round(p99(quiet)),
      ingest_p99_sweeping_ms: round(p99(sweeping)),
      ingest_p99_ratio: round(p99(sweeping) / p99(quiet), 3),
      ingest_rps_quiet: Math.round(rps(quiet)),
      ingest_rps_sweeping: Math.round(rps(sweeping)),
      ingest_non2xx: [...quiet, ...sweeping].reduce((n, r) => n + r.non2xx + r.errors, 0),
      sweeps_during_ingest: sweeps.reconciler.ticks + sweeps.reaper.ticks,
    };
  } finally {
    await background?.stop();
    if (server) await close(server);
    await conveyor.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const TARGETS: [string, (f: Record<string, number>) => boolean, string][] = [
  ['reconciler_tick_ms', (f) => f.reconciler_tick_ms! <= 20, '<= 20'],
  ['reaper_tick_ms', (f) => f.reaper_tick_ms! <= 20, '<= 20'],
  ['ingest_p99_ratio', (f) => f.ingest_p99_ratio! <= 1.5, '<= 1.5'],
];

/** The readable table of a run's figures, with each target and whether it is met. */
export function report(f: Record<string, number>): string {
  const row = (label: string, value: unknown) => `${label.padEnd(40)}${String(value).padStart(12)}`;
  return [
    `sweep: ${f.tasks} tasks (60% at a CI gate, 20% at the human gate, 10% queued, 0.5% running, 4.5% held, 5% done)`,
    row('reconciler tick, median (ms)', f.reconciler_tick_ms),
    row('reconciler tick, worst warm (ms)', f.reconciler_tick_max_ms),
    row('reconciler first tick, cold (ms)', f.reconciler_first_tick_ms),
    row('reaper tick, median (ms)', f.reaper_tick_ms),
    row('reaper tick, worst warm (ms)', f.reaper_tick_max_ms),
    row('reaper first tick, cold (ms)', f.reaper_first_tick_ms),
    `intake: signed forge statuses, ${CONNECTIONS} connections, 2 x ${PHASE_SEC} s each way, loops every 100 ms while sweeping`,
    row('p99 without sweeps (ms)', f.ingest_p99_quiet_ms),
    row('p99 with sweeps (ms)', f.ingest_p99_sweeping_ms),
    row('requests/s without / with sweeps', `${f.ingest_rps_quiet} / ${f.ingest_rps_sweeping}`),
    row('non-2xx or errors', f.ingest_non2xx),
    row('sweeps during the last sweeping phase', f.sweeps_during_ingest),
    ...TARGETS.map(([name, ok, target]) => `target ${name} ${target}: ${ok(f) ? 'met' : 'NOT met'} (${f[name]})`),
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await run();
  console.log(report(figures));
  console.log(`BENCH sweep ${JSON.stringify(figures)}`);
}
