// The load generator of bench/ingest.ts, in its own process so it does not share the server's event loop.
import autocannon from 'autocannon';
import { signGithub } from '../../server/webhooks/signatures.ts';

/** What the parent asks for: where to send, for how long, and which tasks' branches the statuses name. */
export interface LoadOrder {
  url: string;
  connections: number;
  durationSec: number;
  secret: string;
  repo: string;
  targets: { branch: string; sha: string }[];
  /** Prefix of the delivery ids, unique per run so no delivery repeats an earlier one. */
  tag: string;
}

/** What the worker reports back: throughput, exact latency percentiles of the 2xx answers, the slowest request, failures. */
export interface LoadResult {
  rps: number;
  total: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationSec: number;
  /** The slowest request of the round, answered or not, in ms. */
  max: number;
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function load(order: LoadOrder): Promise<LoadResult> {
  // Every request is a new delivery: GitHub's dedupe key is the hash of the signed body, so the body names the request.
  const request = (i: number) => {
    const { branch, sha } = order.targets[i % order.targets.length]!;
    const body = JSON.stringify({
      sha, state: 'success', context: 'ci/build', target_url: `https://ci.test/${order.tag}/${i}`, description: 'build passed',
      repository: { id: 1, full_name: order.repo }, branches: [{ name: branch, commit: { sha } }],
    });
    return { body, signature: signGithub(order.secret, body) };
  };
  let n = 0;
  const latencies: number[] = [];
  const options: autocannon.Options = {
    url: order.url,
    connections: order.connections,
    duration: order.durationSec,
    requests: [{
      method: 'POST',
      setupRequest: (req) => {
        const i = n++;
        const { body, signature } = request(i);
        return {
          ...req,
          body,
          headers: {
            'content-type': 'application/json',
            'x-github-event': 'status',
            'x-github-delivery': `${order.tag}-${i}`,
            'x-hub-signature-256': signature,
          },
        };
      },
    }],
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(options, (error: unknown, done: autocannon.Result) => (error ? reject(error as Error) : resolve(done)));
    instance.on('response', (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      if (status >= 200 && status < 300) latencies.push(responseTime);
    });
  });
  const sorted = Float64Array.from(latencies).sort();
  return {
    rps: result.requests.total / (result.duration || order.durationSec),
    total: result.requests.total,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationSec: result.duration,
    max: result.latency.max,
  };
}

process.once('message', (order: LoadOrder) => {
  load(order).then(
    (result) => process.send!(result, () => process.exit(0)),
    (error: unknown) => {
      process.stderr.write(`autocannon-worker: ${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
});
