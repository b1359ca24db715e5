// Webhook intake on the real server process, as a user starts it (server/main.ts with --data and --config), with
// its tasks resting at a gate: signed GitHub statuses, each a new delivery committed before its 2xx, from 50
// keep-alive clients, against a bare Hono echo process under the same load. Also the restart of a store with
// many history entries, to serving.
//   npm run bench -- ingest            small: about a minute
//   npm run bench -- ingest --full     10,000 tasks, 3 x 20 s rounds (over 100,000 deliveries), restart with 1,000,000 entries
//   flags: --tasks N --rounds N --seconds N --history-tasks N --history-per-task N --no-restart --no-intake
//          --history-records (the restart's entries committed as history records in batches, not one transition each)
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, openConveyor, pipelineFromConfig } from '../actors/index.ts';
import { seed, seedHistoryRecords } from './support/ingest-seed.ts';
import { load } from './support/http-load.ts';
import type { LoadOrder, LoadResult } from './support/autocannon-worker.ts';
import { rssBytes, startServer, stopServer, type ServerProcess } from './support/server-process.ts';

const CONNECTIONS = 50;
const OUTCOMES = ['accepted', 'ignored', 'duplicate', 'unrouted'] as const;
const WARMUP_SEC = 3;
const REPO = 'shop';
const FORGE_REPO = 'bench/shop';
const SECRETS = { CONVEYOR_API_TOKEN: 'bench-api-token', CONVEYOR_TRACKER_SECRET: 'bench-tracker-secret', CONVEYOR_FORGE_SECRET: 'bench-forge-secret', CONVEYOR_METRICS_TOKEN: '' };

/** Every stage without an agent, background loops and progress comments off: webhooks alone move tasks, and nothing else runs. */
const CONFIG = {
  repositories: [{ name: REPO, remote: '/nonexistent/shop.git', forge: { kind: 'github', apiBase: 'http://127.0.0.1:9', owner: 'bench', repo: 'shop' } }],
  pipeline: { stages: Object.fromEntries(['analysis', 'development', 'review', 'testing', 'deploy-staging', 'deploy'].map((id) => [id, { agent: null }])) },
  reconciler: { enabled: false },
  reaper: { enabled: false },
  // The forge here is unreachable: a progress comment per task would be a failing call and a warning, not intake.
  notifications: { progressComments: false },
};

interface Sizes {
  tasks: number;
  rounds: number;
  seconds: number;
  restart: boolean;
  intake: boolean;
  historyRecords: boolean;
  historyTasks: number;
  historyPerTask: number;
}

function sizes(argv: string[]): Sizes {
  const { values } = parseArgs({
    args: argv,
    options: {
      full: { type: 'boolean' }, tasks: { type: 'string' }, rounds: { type: 'string' }, seconds: { type: 'string' },
      'history-tasks': { type: 'string' }, 'history-per-task': { type: 'string' }, 'no-restart': { type: 'boolean' },
      'no-intake': { type: 'boolean' }, 'history-records': { type: 'boolean' },
    },
    strict: true,
  });
  const full = values.full === true;
  const n = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));
  const tasks = n(values.tasks, full ? 10_000 : 1_000);
  return {
    tasks,
    rounds: n(values.rounds, 3),
    seconds: n(values.seconds, full ? 20 : 5),
    restart: values['no-restart'] !== true,
    intake: values['no-intake'] !== true,
    historyRecords: values['history-records'] === true,
    historyTasks: n(values['history-tasks'], full ? 10_000 : tasks),
    historyPerTask: n(values['history-per-task'], full ? 100 : 20),
  };
}

const round = (n: number, digits = 2): number => Number(n.toFixed(digits));

/** Reads one sample of the server's /metrics by its exact name and labels. */
async function metric(server: ServerProcess, sample: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

async function rounds(count: number, order: (tag: string) => LoadOrder): Promise<LoadResult[]> {
  await load(order('warm'));
  const results: LoadResult[] = [];
  for (let r = 0; r < count; r++) results.push(await load(order(`round${r}`)));
  return results;
}

/** Mean rate, the worst round's p99 and each round's slowest request. */
function summary(results: LoadResult[]) {
  const total = results.reduce((n, r) => n + r.total, 0);
  const seconds = results.reduce((n, r) => n + r.durationSec, 0);
  return {
    rps: total / seconds,
    total,
    p50: Math.max(...results.map((r) => r.p50)),
    p99: Math.max(...results.map((r) => r.p99)),
    maxes: results.map((r) => r.max),
    failed: results.reduce((n, r) => n + r.non2xx + r.errors + r.timeouts, 0),
  };
}

async function writeConfig(dir: string): Promise<{ config: string; data: string }> {
  const config = join(dir, 'conveyor.config.json');
  await writeFile(config, JSON.stringify(CONFIG));
  const data = join(dir, 'data');
  await mkdir(data);
  return { config, data };
}

const serverArgs = (paths: { config: string; data: string }) => ['--port', '0', '--host', '127.0.0.1', '--data', paths.data, '--config', paths.config];

/** Intake against echo on one seeded store. */
async function intake(dir: string, s: Sizes): Promise<Record<string, number>> {
  const paths = await writeConfig(dir);
  const seeded = await seed(paths.data, paths.config, { repo: REPO, tasks: s.tasks, historyPerTask: 0 });
  const { targets } = seeded;
  const order = (url: string) => (tag: string): LoadOrder =>
    ({ url, connections: CONNECTIONS, durationSec: tag === 'warm' ? WARMUP_SEC : s.seconds, secret: SECRETS.CONVEYOR_FORGE_SECRET, repo: FORGE_REPO, targets, tag: `${tag}-${Date.now()}` });

  const echoServer = await startServer('bench/support/echo-server.ts', []);
  let echo;
  try {
    echo = summary(await rounds(s.rounds, order(echoServer.url)));
  } finally {
    await stopServer(echoServer);
  }

  const server = await startServer('server/main.ts', serverArgs(paths), SECRETS);
  try {
    const url = `${server.url}/webhooks/forge`;
    await load(order(url)('warm'));
    const rssBefore = await rssBytes(server.child.pid!);
    // The heap in use (not collected first): what the process holds, apart from what V8 keeps reserved.
    const heapBefore = await metric(server, 'conveyor_nodejs_heap_size_used_bytes');
    const heapTotalBefore = await metric(server, 'conveyor_nodejs_heap_size_total_bytes');
    const bytesBefore = await metric(server, 'conveyor_store_journal_bytes_total');
    const outcomes = async () => Object.fromEntries(await Promise.all(OUTCOMES.map(async (o) => [o, await metric(server, `conveyor_webhooks_total{source="forge",outcome="${o}"}`)] as const)));
    const outcomesBefore = await outcomes();
    const results: LoadResult[] = [];
    const rssByRound: number[] = [];
    for (let r = 0; r < s.rounds; r++) {
      results.push(await load(order(url)(`round${r}`)));
      rssByRound.push(await rssBytes(server.child.pid!));
    }
    const rssAfter = await rssBytes(server.child.pid!);
    // After the first round the heap has reached its working size: growth from there on is what deliveries keep.
    const laterDeliveries = results.slice(1).reduce((n, r) => n + r.total, 0);
    const laterGrowth = (rssByRound.at(-1)! - rssByRound[0]!) / 2 ** 20;
    const heapAfter = await metric(server, 'conveyor_nodejs_heap_size_used_bytes');
    const heapTotalAfter = await metric(server, 'conveyor_nodejs_heap_size_total_bytes');
    const bytes = (await metric(server, 'conveyor_store_journal_bytes_total')) - bytesBefore;
    const outcomesAfter = await outcomes();
    const c = summary(results);
    return {
      tasks: s.tasks,
      connections: CONNECTIONS,
      round_seconds: s.seconds,
      rounds: s.rounds,
      seed_create_tasks_ms: round(seeded.createMs, 0),
      ingest_rps: Math.round(c.rps),
      ingest_p50_ms: round(c.p50),
      ingest_p99_ms: round(c.p99),
      ...Object.fromEntries(c.maxes.map((m, i) => [`ingest_max_ms_round${i + 1}`, round(m)])),
      ingest_max_ms: round(Math.max(...c.maxes)),
      ingest_deliveries: c.total,
      ...Object.fromEntries(OUTCOMES.map((o) => [`ingest_${o}`, outcomesAfter[o]! - outcomesBefore[o]!])),
      ingest_failed: c.failed,
      echo_rps: Math.round(echo.rps),
      echo_p50_ms: round(echo.p50),
      echo_p99_ms: round(echo.p99),
      echo_max_ms: round(Math.max(...echo.maxes)),
      echo_failed: echo.failed,
      rps_ratio: round(c.rps / echo.rps, 3),
      p99_ratio: round(c.p99 / echo.p99, 3),
      rss_mb_before: round(rssBefore / 2 ** 20, 1),
      rss_mb_after: round(rssAfter / 2 ** 20, 1),
      rss_growth_mb: round((rssAfter - rssBefore) / 2 ** 20, 1),
      rss_growth_mb_per_100k: round(((rssAfter - rssBefore) / 2 ** 20) * (100_000 / c.total), 1),
      rss_growth_mb_per_100k_after_round1: laterDeliveries > 0 ? round(laterGrowth * (100_000 / laterDeliveries), 1) : 0,
      heap_used_mb_before: round(heapBefore / 2 ** 20, 1),
      heap_used_mb_after: round(heapAfter / 2 ** 20, 1),
      heap_total_mb_before: round(heapTotalBefore / 2 ** 20, 1),
      heap_total_mb_after: round(heapTotalAfter / 2 ** 20, 1),
      journal_bytes_per_webhook: Math.round(bytes / Math.max(1, OUTCOMES.reduce((n, o) => n + outcomesAfter[o]! - outcomesBefore[o]!, 0))),
    };
  } finally {
    await stopServer(server);
  }
}

/**
 * Restart on a store with many history entries: the time to load it and restore every task (what stands between
 * a start and serving), in this process; then the real process's start to listening, on it and on an empty store.
 */
async function restart(dir: string, s: Sizes): Promise<Record<string, number>> {
  const paths = await writeConfig(dir);
  const seeded = await seed(paths.data, paths.config, { repo: REPO, tasks: s.historyTasks, historyPerTask: s.historyRecords ? 0 : s.historyPerTask });
  if (s.historyRecords) seeded.historyMs = await seedHistoryRecords(paths.data, s.historyPerTask);
  const restartMs = await openMs(paths);
  const emptyPaths = await writeConfig(await mkdtemp(join(dir, 'empty-')));
  const empty = await startServer('server/main.ts', serverArgs(emptyPaths), SECRETS);
  await stopServer(empty);
  const full = await startServer('server/main.ts', serverArgs(paths), SECRETS);
  const rss = await rssBytes(full.child.pid!);
  await stopServer(full);
  return {
    restart_tasks: s.historyTasks,
    restart_history_entries: s.historyTasks * s.historyPerTask,
    seed_history_ms: round(seeded.historyMs, 0),
    restart_ms: round(restartMs, 0),
    process_start_empty_ms: round(empty.startMs, 0),
    process_start_seeded_ms: round(full.startMs, 0),
    restart_rss_mb: round(rss / 2 ** 20, 1),
  };
}

/** Opens a conveyor on the directory under the configuration's pipeline, checks it is whole, closes it; ms to open. */
async function openMs(paths: { config: string; data: string }): Promise<number> {
  const config = loadConfig(paths.config);
  if (!config.ok) throw new Error(`bench: ${config.errors.join('; ')}`);
  const began = performance.now();
  const conveyor = await openConveyor({ dataDir: paths.data, pipeline: pipelineFromConfig(config.config) });
  const ms = performance.now() - began;
  await conveyor.stop();
  return ms;
}

/** Measures intake against echo on the real server process, then (unless --no-restart) restart to serving. */
export async function run(): Promise<Record<string, number>> {
  const s = sizes(process.argv.slice(3));
  const loadAtStart = loadavg()[0]!;
  const dir = await mkdtemp(join(tmpdir(), 'conveyor-bench-ingest-'));
  try {
    const figures = s.intake ? await intake(await mkdtemp(join(dir, 'intake-')), s) : {};
    const restarted = s.restart ? await restart(await mkdtemp(join(dir, 'restart-')), s) : {};
    return { ...figures, ...restarted, cpus: availableParallelism(), load_avg_1m_start: round(loadAtStart), load_avg_1m_end: round(loadavg()[0]!) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const TARGETS: [string, string, (v: number) => boolean][] = [
  ['rps_ratio', '>= 0.25', (v) => v >= 0.25],
  ['p99_ratio', '<= 4', (v) => v <= 4],
  ['ingest_max_ms', '< 100', (v) => v < 100],
  ['rss_growth_mb_per_100k', '<= 10', (v) => v <= 10],
  ['journal_bytes_per_webhook', '<= 600', (v) => v <= 600],
  ['restart_ms', '<= 1000', (v) => v <= 1000],
];

/** The readable table of a run's figures, with each target and whether it is met. */
export function report(f: Record<string, number>): string {
  const row = (label: string, a: unknown, b: unknown = '') => `${label.padEnd(38)}${String(a ?? '').padStart(12)}${String(b ?? '').padStart(12)}`;
  const maxes = Object.keys(f).filter((k) => k.startsWith('ingest_max_ms_round')).map((k) => f[k]);
  return [
    `ingest: server/main.ts as started by a user, ${f.tasks} tasks at analysis.gating, ${f.connections} keep-alive clients,`,
    `${f.rounds} x ${f.round_seconds} s rounds of signed GitHub statuses, every one a new delivery (autocannon in its own process)`,
    `machine: ${f.cpus} cpus, 1-minute load average ${f.load_avg_1m_start} at start, ${f.load_avg_1m_end} at end`,
    row('', 'conveyor', 'echo'),
    row('requests/s', f.ingest_rps, f.echo_rps),
    row('p50 latency (ms, worst round)', f.ingest_p50_ms, f.echo_p50_ms),
    row('p99 latency (ms, worst round)', f.ingest_p99_ms, f.echo_p99_ms),
    row('longest request (ms, by round)', maxes.join(' / '), f.echo_max_ms),
    row('deliveries / failed', `${f.ingest_deliveries} / ${f.ingest_failed}`, f.echo_failed),
    row('accepted/ignored/duplicate/unrouted', `${f.ingest_accepted} / ${f.ingest_ignored} / ${f.ingest_duplicate} / ${f.ingest_unrouted}`),
    row('server RSS before / after (MB)', `${f.rss_mb_before} / ${f.rss_mb_after}`),
    row('RSS growth per 100k after round 1 (MB)', f.rss_growth_mb_per_100k_after_round1),
    row('server heap used before / after (MB)', `${f.heap_used_mb_before} / ${f.heap_used_mb_after}`),
    row('server heap reserved before / after (MB)', `${f.heap_total_mb_before} / ${f.heap_total_mb_after}`),
    row('RSS growth per 100k deliveries (MB)', f.rss_growth_mb_per_100k),
    row('journal bytes per webhook', f.journal_bytes_per_webhook),
    ...(f.restart_ms === undefined ? [] : [
      row(`restart, ${f.restart_tasks} tasks, ${f.restart_history_entries} entries (ms)`, f.restart_ms),
      row('  process start to listening: seeded / empty (ms)', `${f.process_start_seeded_ms} / ${f.process_start_empty_ms}`),
    ]),
    ...TARGETS.filter(([key]) => f[key] !== undefined).map(([key, target, met]) => `target ${key} ${target}: ${f[key]} ${met(f[key]!) ? 'met' : 'MISSED'}`),
  ].join('\n');
}
