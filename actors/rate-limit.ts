import type { Clock } from './clock.ts';

/** What a rate-limited call came to: it waited as told and tried again, or the wait was past its budget and it gave up. */
export interface RateLimitEvent {
  client: string;
  method: string;
  url: string;
  status: number;
  /** How long the server asked to wait, in ms. */
  retryAfterMs: number;
  budgetMs: number;
  outcome: 'waited' | 'exhausted';
  at: number;
}

export interface RateLimitOptions {
  /** `tracker` or `forge`: names the client in metrics, alerts and logs. */
  client: string;
  /** The longest one call may spend waiting on the server's Retry-After, in total. */
  budgetMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** A rate limit's time on a clock (the runtime's): it reads the time and waits with timers there. */
export function onClock(clock: () => Clock): Pick<RateLimitOptions, 'now' | 'sleep'> {
  return { now: () => clock().now(), sleep: (ms) => new Promise<void>((resolve) => void clock().setTimeout(() => resolve(), ms)) };
}

/** Used when a 429 names no Retry-After: long enough not to hammer, short enough to stay within a budget. */
const DEFAULT_WAIT_MS = 5_000;

/**
 * Honours a server's rate limit (429, or 403/503 with `Retry-After`) for one client: a call waits as long as
 * the server asks and tries again while its budget lasts; past it the call fails at once with the server's
 * answer. Calls made while a limit is known to hold wait for it too instead of spending a request. Every
 * wait and every give-up is reported to the observers (metrics, alerts), so a limit never stalls silently.
 */
export class RateLimit {
  readonly client: string;
  readonly budgetMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #observers = new Set<(e: RateLimitEvent) => void>();
  /** No call goes out before this time: the last Retry-After heard. */
  #until = 0;

  constructor(o: RateLimitOptions) {
    this.client = o.client;
    this.budgetMs = o.budgetMs ?? 60_000;
    this.#now = o.now ?? Date.now;
    this.#sleep = o.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  observe(observer: (e: RateLimitEvent) => void): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /** Makes the call, waiting out rate limits within the budget; the last answer is returned as it came. */
  async fetch(method: string, url: string, call: () => Promise<Response>): Promise<Response> {
    let spent = 0;
    const held = this.#until - this.#now();
    if (held > 0 && held <= this.budgetMs) {
      spent += held;
      await this.#sleep(held);
    }
    for (;;) {
      const response = await call();
      const waitMs = limitedFor(response, this.#now());
      if (waitMs === null) return response;
      const at = this.#now();
      this.#until = Math.max(this.#until, at + waitMs);
      const event = { client: this.client, method, url, status: response.status, retryAfterMs: waitMs, budgetMs: this.budgetMs, at };
      if (spent + waitMs > this.budgetMs) {
        this.#report({ ...event, outcome: 'exhausted' });
        return response;
      }
      this.#report({ ...event, outcome: 'waited' });
      await response.body?.cancel().catch(() => undefined);
      spent += waitMs;
      await this.#sleep(waitMs);
    }
  }

  #report(e: RateLimitEvent): void {
    for (const observer of this.#observers) {
      try {
        observer(e);
      } catch {
        // An observer's failure must not turn a rate limit into a failed call.
      }
    }
  }
}

/** How long the answer asks to wait, or null when it is not a rate limit. */
function limitedFor(response: Response, now: number): number | null {
  const header = response.headers.get('retry-after');
  if (response.status === 429) return retryAfterMs(header, now) ?? DEFAULT_WAIT_MS;
  // GitHub's secondary limits answer 403, and a busy server 503, with a Retry-After; without one they are other failures.
  if (response.status === 403 || response.status === 503) return retryAfterMs(header, now);
  return null;
}

/** A Retry-After value (delay in seconds, or an HTTP date) as ms from now; null when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}
