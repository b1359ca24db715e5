import type { RateLimit, RateLimitEvent } from '../rate-limit.ts';
import type { Runtime } from '../runtime.ts';

export interface RateLimitFollowOptions {
  runtime: Runtime;
  /** Counts every wait and every give-up (conveyor_rate_limited_total). */
  count(e: RateLimitEvent): void;
  /** One alert per client in this window, so a long limit is one alert, not one per call. */
  quietMs?: number;
}

/**
 * Makes a client's rate limit loud: each wait and give-up is counted, and a give-up (the server asked for a wait
 * past the budget, so the call failed) raises a `rate_limited` alert naming the client, the call and the wait.
 */
export function followRateLimit(limit: RateLimit, o: RateLimitFollowOptions): () => void {
  const quietMs = o.quietMs ?? 10 * 60_000;
  let lastAlertAt = -Infinity;
  return limit.observe((e) => {
    o.count(e);
    if (e.outcome !== 'exhausted' || e.at - lastAlertAt < quietMs) return;
    lastAlertAt = e.at;
    const value = {
      kind: 'rate_limited', at: e.at, client: e.client, method: e.method, url: e.url, status: e.status, retryAfterMs: e.retryAfterMs, budgetMs: e.budgetMs,
    };
    void o.runtime.write([{ kind: 'put', collection: 'alerts', id: `rate-limited:${e.client}:${e.at}`, value }]).catch(() => undefined);
  });
}
