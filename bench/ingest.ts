// Webhook intake with 10,000 live tasks: signed forge statuses over HTTP into committed transitions, against a
// bare Hono echo server under the same load; plus restart time and heap per idle task at 10,000 tasks.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { Conveyor, openConveyor } from '../actors/index.ts';
import { createApp } from '../server/app.ts';
import { defaultTrackerRouting } from '../server/default-tracker.ts';
import { EmbeddedStore } from '../store/index.ts';
import type { LoadOrder } from './support/autocannon-worker.ts';
import { close, listen, load } from './support/http-load.ts';

const TASKS = 10_000;
const CREATE_CONCURRENCY = 500;
const CONNECTIONS = 50;
const WARMUP_SEC = 2;
const DURATION_SEC = 10;
const REPO = 'bench/shop';
const FORGE_SECRET = 'bench-forge-secret';

/** Runs a full collection and returns the heap in use; the gc comes from a flag set at run time, not the command line. */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

/** Waits until every task rests at the analysis gate: created, prepared, its analyst job done. */
async function settled(conveyor: Conveyor, count: number): Promise<void> {
  for (;;) {
    const resting = conveyor.tasks({ stage: 'analysis' }).filter((t) => t.state === 'analysis.gating').length;
    if (resting === count && conveyor.runtime.liveCount() === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function createTasks(conveyor: Conveyor, count: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      await conveyor.createTask({ repo: REPO, title: `Bench task ${i}`, trackerIssueId: `BENCH-${i}` }, { source: 'operator' });
    }
  };
  await Promise.all(Array.from({ length: CREATE_CONCURRENCY }, lane));
  await settled(conveyor, count);
}

async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work();
  return { value, ms: performance.now() - start };
}

/** Opens a conveyor on a directory, checks every task came back, closes it; the time to ready, in ms. */
async function restartMs(dataDir: string): Promise<number> {
  const { value: conveyor, ms } = await timed(() => openConveyor({ dataDir }));
  const restored = conveyor.status().tasks.total;
  await conveyor.stop();
  if (restored !== TASKS) throw new Error(`bench: a restart of ${dataDir} restored ${restored} of ${TASKS} tasks`);
  return ms;
}




/** Measures intake throughput and latency, restart times and heap per idle task; one run, under two minutes. */
export async function run(): Promise<Record<string, number>> {
  // Load generator and server share this machine's cores; a busy machine lowers both sides' figures.
  const loadAtStart = loadavg()[0]!;
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-bench-ingest-'));
  const crashImage = `${dir}-journal-only`;
  const servers: ServerType[] = [];
  let live: Conveyor | null = null;
  try {
    // No checkpoint while creating, so a copy of the directory is what a kill -9 would leave: a journal only.
    let first: Conveyor | null = new Conveyor({ store: new EmbeddedStore({ dir, checkpointEvery: 1e12, checkpointIntervalMs: 1e12 }) });
    await first.start();
    const baseline = heapAfterGc();
    const created = await timed(() => createTasks(first!, TASKS));
    const heapLive = heapAfterGc() - baseline;
    await cp(dir, crashImage, { recursive: true });
    await first.stop();
    first = null;

    const journalOnlyMs = await restartMs(crashImage);
    const restart = await timed(() => openConveyor({ dataDir: dir }));
    live = restart.value;
    if (live.status().tasks.total !== TASKS) throw new Error('bench: the restart from checkpoint lost tasks');
    const heapRestored = heapAfterGc() - baseline;

    const conveyor = live;
    const app = createApp({ conveyor, apiToken: 'bench-api-token', trackerSecret: 'bench-tracker-secret', forgeSecret: FORGE_SECRET, tracker: defaultTrackerRouting });
    const echo = new Hono().post('/', (c) => c.json({ ok: true }));
    const intake = await listen(app.fetch);
    const bare = await listen(echo.fetch);
    servers.push(intake.server, bare.server);

    // Each task gets statuses for one sha of its branch: the first makes it the head, the rest touch the task again.
    const targets = conveyor.tasks().map((t, i) => ({ branch: conveyor.record(t.id)!.meta.branch, sha: i.toString(16).padStart(40, '0') }));
    const order = (url: string, tag: string, durationSec: number): LoadOrder =>
      ({ url, connections: CONNECTIONS, durationSec, secret: FORGE_SECRET, repo: REPO, targets, tag });

    await load(order(bare.url, 'warm-echo', WARMUP_SEC));
    const e = await load(order(bare.url, 'echo', DURATION_SEC));
    const acceptedBefore = conveyor.runtime.counters.accepted;
    await load(order(`${intake.url}/webhooks/forge`, 'warm-ingest', WARMUP_SEC));
    const acceptedWarm = conveyor.runtime.counters.accepted;
    const c = await load(order(`${intake.url}/webhooks/forge`, 'ingest', DURATION_SEC));
    const acceptedAfter = conveyor.runtime.counters.accepted;

    return {
      tasks: TASKS,
      create_tasks_per_s: Math.round(TASKS / (created.ms / 1000)),
      ingest_rps: Math.round(c.rps),
      ingest_p50_ms: round(c.p50),
      ingest_p99_ms: round(c.p99),
      ingest_non2xx: c.non2xx,
      ingest_errors: c.errors + c.timeouts,
      ingest_requests: c.total,
      ingest_accepted: acceptedAfter - acceptedWarm,
      warmup_accepted: acceptedWarm - acceptedBefore,
      echo_rps: Math.round(e.rps),
      echo_p50_ms: round(e.p50),
      echo_p99_ms: round(e.p99),
      echo_non2xx: e.non2xx,
      rps_ratio: round(c.rps / e.rps, 3),
      p99_ratio: round(c.p99 / e.p99, 3),
      restart_ms_10k: round(restart.ms, 1),
      restart_journal_only_ms_10k: round(journalOnlyMs, 1),
      heap_kb_per_idle_task: round(heapLive / TASKS / 1024),
      heap_kb_per_idle_task_restored: round(heapRestored / TASKS / 1024),
      cpus: availableParallelism(),
      load_avg_1m_start: round(loadAtStart),
      load_avg_1m_end: round(loadavg()[0]!),
    };
  } finally {
    await Promise.all(servers.map(close));
    await live?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(crashImage, { recursive: true, force: true });
  }
}

const TARGETS: [string, (f: Record<string, number>) => boolean, string][] = [
  ['rps_ratio', (f) => f.rps_ratio! >= 0.5, '>= 0.5'],
  ['p99_ratio', (f) => f.p99_ratio! <= 2, '<= 2'],
  ['restart_ms_10k', (f) => f.restart_ms_10k! <= 1000, '<= 1000'],
  ['heap_kb_per_idle_task', (f) => f.heap_kb_per_idle_task! <= 10, '<= 10'],
];

/** The readable table of a run's figures, with each target and whether it is met. */
export function report(f: Record<string, number>): string {
  const row = (label: string, a: unknown, b: unknown = '') => `${label.padEnd(34)}${String(a).padStart(12)}${String(b).padStart(12)}`;
  return [
    `ingest: signed forge statuses over HTTP on loopback, ${CONNECTIONS} connections, ${DURATION_SEC} s, ${f.tasks} live tasks`,
    '(autocannon in a forked child process; every request a new delivery id, so none is deduplicated)',
    `machine: ${f.cpus} cpus, 1-minute load average ${f.load_avg_1m_start} at start, ${f.load_avg_1m_end} at end`,
    row('', 'conveyor', 'echo'),
    row('requests/s', f.ingest_rps, f.echo_rps),
    row('p50 latency (ms)', f.ingest_p50_ms, f.echo_p50_ms),
    row('p99 latency (ms)', f.ingest_p99_ms, f.echo_p99_ms),
    row('non-2xx', f.ingest_non2xx, f.echo_non2xx),
    row('transitions committed', f.ingest_accepted),
    row('task creation (tasks/s)', f.create_tasks_per_s),
    row('restart from checkpoint (ms)', f.restart_ms_10k),
    row('restart from journal only (ms)', f.restart_journal_only_ms_10k),
    row('heap per idle task (KB)', f.heap_kb_per_idle_task),
    row('heap per idle task, restored (KB)', f.heap_kb_per_idle_task_restored),
    ...TARGETS.map(([key, met, target]) => `target ${key} ${target}: ${f[key]} ${met(f) ? 'met' : 'MISSED'}`),
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const figures = await run();
  console.log(report(figures));
  console.log(`BENCH ingest ${JSON.stringify(figures)}`);
}
