import type { SimClock } from './clock.ts';
import type { Faults } from './faults.ts';
import type { SimRandom } from './random.ts';

export interface SimApiOptions {
  clock: SimClock;
  random: SimRandom;
  faults: Faults;
  /** Whether the calling process is alive: a dead one's calls never answer. */
  alive: () => boolean;
  /** Serves one call that reached the service: the work is done here, whatever becomes of the answer. */
  answer(method: string, url: URL, body: Record<string, unknown>): Response;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

const timedOut = () => new DOMException('The operation was aborted due to timeout', 'TimeoutError');

/**
 * A service's REST API as conveyor's fetch sees it, with the faults of the network and the service: it
 * answers after a delay, or 503 without doing the work, or 429 with a Retry-After, or hangs until
 * conveyor's timeout; or it does the work and the answer is lost on the way back.
 */
export function simFetch(o: SimApiOptions): typeof fetch {
  const { clock, random, faults, alive } = o;
  return async (input, init) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : {};
    const before = faults.roll('apiFail') ? 'fail' : faults.roll('apiTimeout') ? 'timeout' : faults.roll('rateLimit') ? 'limited' : null;
    const after = before === null && faults.roll('apiLost');
    return new Promise<Response>((resolve, reject) => {
      clock.later(random.int(50, 2_000), () => {
        if (!alive()) return;
        if (before === 'timeout') return void clock.later(30_000, () => alive() && reject(timedOut()));
        if (before === 'fail') return resolve(json(503, { message: 'sim: service unavailable' }));
        if (before === 'limited') return resolve(json(429, { message: 'sim: rate limited' }, { 'retry-after': String(random.int(1, 60)) }));
        const answer = o.answer(method, url, body);
        if (after) return void clock.later(30_000, () => alive() && reject(timedOut()));
        resolve(answer);
      });
    });
  };
}
