import type { Collection, StoreRecord } from '../../store/index.ts';
import type { Clock } from '../clock.ts';
import type { LogLine } from '../log.ts';

/** One message for operators: a confirmed change or an alert. */
export interface Notification {
  kind: string;
  text: string;
  taskId?: string;
}

/** A message waiting to reach the webhook, kept in the 'meta' collection under `outbox:` ids. */
export interface OutboxRecord extends Notification {
  id: string;
  createdAt: number;
  attempts: number;
  nextAt: number;
  status: 'pending' | 'failed';
  lastError?: string;
}

export interface OutboxOptions {
  store: { write(records: StoreRecord[]): Promise<void>; list<T>(collection: Collection): T[] };
  clock: Clock;
  bootId: string;
  /** A Slack-compatible incoming webhook (`{ text }`); without one, messages go to the log only. */
  webhookUrl?: string | null;
  log: LogLine;
  fetch?: typeof fetch;
  /** Attempts before a message is kept as failed; default 8. */
  maxAttempts?: number;
  /** Retry n waits baseBackoffMs * 2^(n-1); default 1000. */
  baseBackoffMs?: number;
  timeoutMs?: number;
}

export const OUTBOX_PREFIX = 'outbox:';

/**
 * The notification outbox: a message is logged, stored, then posted to the webhook, retried with backoff
 * until it is taken, across restarts. Callers enqueue only after the change they report is committed.
 */
export class Outbox {
  readonly #o: OutboxOptions;
  readonly #fetch: typeof fetch;
  #seq = 0;
  #started = false;
  #stopped = false;
  #draining: Promise<void> | null = null;
  #again = false;
  #timer: unknown = null;
  readonly stats = { enqueued: 0, sent: 0, retried: 0, failed: 0 };

  constructor(opts: OutboxOptions) {
    this.#o = opts;
    this.#fetch = opts.fetch ?? globalThis.fetch;
  }

  /** Picks up messages an earlier run left pending. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#stopped = false;
    this.#kick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#draining;
    this.#started = false;
  }

  /** Logs the message at once and, with a webhook configured, stores it and sends it; resolves once stored. */
  async notify(n: Notification): Promise<void> {
    this.stats.enqueued++;
    this.#o.log(`notify: ${n.text}`, n.taskId ? { taskId: n.taskId } : {});
    if (!this.#o.webhookUrl) return;
    const now = this.#o.clock.now();
    const record: OutboxRecord = { ...n, id: `${OUTBOX_PREFIX}${this.#o.bootId}:${now}:${++this.#seq}`, createdAt: now, attempts: 0, nextAt: now, status: 'pending' };
    await this.#o.store.write([{ kind: 'put', collection: 'meta', id: record.id, value: record }]);
    this.#kick();
  }

  pending(): OutboxRecord[] {
    return this.#o.store
      .list<OutboxRecord>('meta')
      .filter((r) => typeof r?.id === 'string' && r.id.startsWith(OUTBOX_PREFIX) && r.status === 'pending')
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  #kick(): void {
    if (this.#stopped || !this.#started || !this.#o.webhookUrl) return;
    if (this.#draining) {
      this.#again = true;
      return;
    }
    this.#draining = this.#drain()
      .catch((e: unknown) => this.#o.log(`notify: outbox drain failed: ${(e as Error).message}`, { level: 'error' }))
      .finally(() => {
        this.#draining = null;
        if (this.#again) {
          this.#again = false;
          this.#kick();
        }
      });
  }

  async #drain(): Promise<void> {
    let next: number | null = null;
    for (const record of this.pending()) {
      if (this.#stopped) return;
      const now = this.#o.clock.now();
      if (record.nextAt > now) {
        next = Math.min(next ?? record.nextAt, record.nextAt);
        continue;
      }
      const error = await this.#post(record);
      if (error === null) {
        this.stats.sent++;
        await this.#o.store.write([{ kind: 'delete', collection: 'meta', id: record.id }]);
        continue;
      }
      const attempts = record.attempts + 1;
      const failed = attempts >= (this.#o.maxAttempts ?? 8);
      const retryAt = this.#o.clock.now() + (this.#o.baseBackoffMs ?? 1000) * 2 ** (attempts - 1);
      if (failed) this.stats.failed++;
      else this.stats.retried++;
      this.#o.log(`notify: webhook refused ${record.id} (attempt ${attempts}): ${error}${failed ? '; giving up, kept as failed' : ''}`, { level: 'warn' });
      const value: OutboxRecord = { ...record, attempts, nextAt: retryAt, status: failed ? 'failed' : 'pending', lastError: error };
      await this.#o.store.write([{ kind: 'put', collection: 'meta', id: record.id, value }]);
      if (!failed) next = Math.min(next ?? retryAt, retryAt);
    }
    if (next !== null && !this.#stopped) this.#schedule(next);
  }

  #schedule(at: number): void {
    if (this.#timer !== null) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = null;
      this.#kick();
    }, Math.max(0, at - this.#o.clock.now()));
  }

  async #post(record: OutboxRecord): Promise<string | null> {
    try {
      const response = await this.#fetch(this.#o.webhookUrl!, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: record.text }),
        signal: AbortSignal.timeout(this.#o.timeoutMs ?? 10_000),
      });
      await response.arrayBuffer();
      return response.ok ? null : `answered ${response.status}`;
    } catch (e) {
      return (e as Error).message;
    }
  }
}
