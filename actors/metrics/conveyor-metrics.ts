import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { StoreObserver, StoreRecord } from '../../store/index.ts';
import { finishedStatuses, type JobRecord } from '../work/job-record.ts';
import type { Usage } from '../agents/index.ts';
import { registerScrapeMetrics, type ScrapeSource } from './scrape-metrics.ts';

/** What a webhook delivery came to, as counted by conveyor_webhooks_total. */
export type WebhookOutcome = 'accepted' | 'ignored' | 'duplicate' | 'unrouted' | 'refused' | 'failed';

const SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const JOB_SECONDS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];
const BATCH_RECORDS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000];
/** How many finished jobs and settled effects are remembered, so a rewritten record is not counted twice. */
const SEEN_LIMIT = 10_000;

/**
 * The Prometheus figures of one conveyor, in a registry of its own (several conveyors may share a
 * process). Figures that exist as state are read when scraped; the rest are counted as they happen.
 */
export class ConveyorMetrics {
  readonly registry = new Registry();
  readonly #webhooks: Counter<'source' | 'outcome'>;
  readonly #http: Histogram<'method' | 'route' | 'status'>;
  readonly #commit: Histogram;
  readonly #commitFailures: Counter;
  readonly #batch: Histogram;
  readonly #fsync: Histogram;
  readonly #journalBytes: Counter;
  readonly #checkpoint: Histogram<'outcome'>;
  readonly #jobs: Histogram<'stage' | 'outcome'>;
  readonly #effects: Counter<'effect' | 'status'>;
  readonly #tokens: Counter<'repo' | 'stage' | 'type'>;
  readonly #cost: Counter<'repo' | 'stage'>;
  readonly #ticks: Histogram<'loop' | 'outcome'>;
  readonly #rateLimited: Counter<'client' | 'outcome'>;
  readonly #seen = new Set<string>();
  #processMetrics = false;

  constructor(source: ScrapeSource) {
    const registers = [this.registry];
    this.#webhooks = new Counter({ name: 'conveyor_webhooks_total', help: 'Webhook deliveries by source and what came of them', labelNames: ['source', 'outcome'], registers });
    this.#http = new Histogram({ name: 'conveyor_http_request_duration_seconds', help: 'HTTP requests by method, route pattern and status', labelNames: ['method', 'route', 'status'], buckets: SECONDS, registers });
    this.#commit = new Histogram({ name: 'conveyor_store_commit_seconds', help: 'Time from a commit call to its durable answer', buckets: SECONDS, registers });
    this.#commitFailures = new Counter({ name: 'conveyor_store_commit_failures_total', help: 'Commit calls that were not stored (nothing applied)', registers });
    this.#batch = new Histogram({ name: 'conveyor_store_batch_records', help: 'Records per journal write (commits grouped under one fsync)', buckets: BATCH_RECORDS, registers });
    this.#fsync = new Histogram({ name: 'conveyor_store_fsync_seconds', help: 'fsync of one journal write', buckets: SECONDS, registers });
    this.#journalBytes = new Counter({ name: 'conveyor_store_journal_bytes_total', help: 'Bytes appended to the journal', registers });
    this.#checkpoint = new Histogram({ name: 'conveyor_store_checkpoint_seconds', help: 'Checkpoint writes, written or failed', labelNames: ['outcome'], buckets: SECONDS, registers });
    this.#jobs = new Histogram({ name: 'conveyor_job_duration_seconds', help: 'Agent jobs from start to finish, by stage and outcome', labelNames: ['stage', 'outcome'], buckets: JOB_SECONDS, registers });
    this.#effects = new Counter({ name: 'conveyor_effect_outcomes_total', help: 'Outside effects (merges, deploys, mirrors) settled, by effect and status', labelNames: ['effect', 'status'], registers });
    this.#tokens = new Counter({ name: 'conveyor_agent_tokens_total', help: 'Tokens agent CLIs reported for finished jobs, by repository, stage and type (input, output, cache_read, cache_write)', labelNames: ['repo', 'stage', 'type'], registers });
    this.#cost = new Counter({ name: 'conveyor_agent_cost_usd_total', help: 'Cost in US dollars agent CLIs reported for finished jobs, by repository and stage', labelNames: ['repo', 'stage'], registers });
    this.#ticks = new Histogram({ name: 'conveyor_background_tick_seconds', help: 'Sweeps of the reconciler and the reaper, by outcome', labelNames: ['loop', 'outcome'], buckets: SECONDS, registers });
    this.#rateLimited = new Counter({ name: 'conveyor_rate_limited_total', help: 'Calls the tracker or forge rate-limited (429, Retry-After): waited out, or given up past the budget', labelNames: ['client', 'outcome'], registers });
    registerScrapeMetrics(this.registry, source);
  }

  /** What the store reports: commit latency, batch size and bytes, fsync and checkpoint durations. */
  readonly store: StoreObserver = {
    commit: (ms, stored) => (stored ? this.#commit.observe(ms / 1000) : this.#commitFailures.inc()),
    batch: (records, fsyncMs, bytes) => {
      this.#batch.observe(records);
      this.#fsync.observe(fsyncMs / 1000);
      this.#journalBytes.inc(bytes);
    },
    checkpoint: (ms, written) => this.#checkpoint.observe({ outcome: written ? 'written' : 'failed' }, ms / 1000),
  };

  /** Records just made durable: job durations and effect outcomes are read off them, once each. */
  committed(records: readonly StoreRecord[]): void {
    for (const record of records) this.#count(record);
  }

  webhook(source: string, outcome: WebhookOutcome): void {
    this.#webhooks.inc({ source, outcome });
  }

  request(method: string, route: string, status: number, seconds: number): void {
    this.#http.observe({ method, route, status: String(status) }, seconds);
  }

  /** A call a tracker or forge rate-limited, and whether it waited or gave up. */
  rateLimited(client: string, outcome: 'waited' | 'exhausted'): void {
    this.#rateLimited.inc({ client, outcome });
  }

  /** One sweep of a background loop, its duration and whether it threw. */
  sweep(loop: string, ms: number, ok: boolean): void {
    this.#ticks.observe({ loop, outcome: ok ? 'ok' : 'error' }, ms / 1000);
  }

  /** Adds the process's own figures (memory, CPU, event-loop lag); once, and only for a serving process. */
  collectProcessMetrics(): void {
    if (this.#processMetrics) return;
    this.#processMetrics = true;
    collectDefaultMetrics({ register: this.registry, prefix: 'conveyor_' });
  }

  /** The exposition text and its content type. */
  async exposition(): Promise<{ text: string; contentType: string }> {
    return { text: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  #count(record: StoreRecord): void {
    if (record.kind !== 'put') return;
    if (record.collection === 'jobs') {
      const job = record.value as JobRecord;
      if (!finishedStatuses.has(job.status) || job.startedAt === undefined || job.finishedAt === undefined) return;
      if (!this.#first(`job:${job.id}`)) return;
      const outcome = job.status === 'exited' ? (job.exitCode === 0 ? 'succeeded' : 'failed') : job.status;
      this.#jobs.observe({ stage: job.stage, outcome }, Math.max(0, job.finishedAt - job.startedAt) / 1000);
      if (job.usage) this.#spent(job.repo, job.stage, job.usage);
    } else if (record.collection === 'effects') {
      const effect = record.value as { key?: string; effect?: string; status?: string };
      if (effect.status === undefined || effect.status === 'started') return;
      if (!this.#first(`effect:${effect.key ?? record.id}:${effect.status}`)) return;
      this.#effects.inc({ effect: effect.effect ?? 'unknown', status: effect.status });
    }
  }

  /** A finished job's tokens and cost, counted once with the job (a job's usage is final when it finishes). */
  #spent(repo: string, stage: string, usage: Usage): void {
    const types: [string, number][] = [['input', usage.inputTokens], ['output', usage.outputTokens], ['cache_read', usage.cacheReadTokens], ['cache_write', usage.cacheWriteTokens]];
    for (const [type, n] of types) if (n > 0) this.#tokens.inc({ repo, stage, type }, n);
    if (usage.costUsd !== null && usage.costUsd > 0) this.#cost.inc({ repo, stage }, usage.costUsd);
  }

  #first(key: string): boolean {
    if (this.#seen.has(key)) return false;
    if (this.#seen.size >= SEEN_LIMIT) this.#seen.delete(this.#seen.values().next().value as string);
    this.#seen.add(key);
    return true;
  }
}
