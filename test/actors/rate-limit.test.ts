import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ForgeClient, RateLimit, retryAfterMs, TrackerClient } from '../../actors/index.ts';
import { makeWorld, type World } from '../background/harness.ts';
import { ForgeDouble } from '../support/forge-double.ts';
import { TrackerDouble } from '../support/tracker-double.ts';

const PROJECT = 'proj-1';

describe('rate limits of the tracker and the forge', () => {
  let world: World;
  let tracker: TrackerDouble;
  let forge: ForgeDouble;
  /** Each wait the clients were told to make; waiting moves the simulated clock on. */
  let waits: number[];
  const limit = (client: string, budgetMs = 60_000) => {
    const rl = new RateLimit({ client, budgetMs, now: () => world.clock.now(), sleep: (ms) => { waits.push(ms); world.clock.increment(ms); return Promise.resolve(); } });
    world.conveyor.watchRateLimit(rl);
    return rl;
  };
  const trackerClient = (budgetMs?: number) =>
    new TrackerClient({ apiBase: tracker.apiBase, workspace: tracker.workspace, token: tracker.token, now: () => world.clock.now(), statesTtlMs: 0, rateLimit: limit('tracker', budgetMs) });
  const metric = async (client: string, outcome: string) => {
    const { text } = await world.conveyor.metrics.exposition();
    const line = text.split('\n').find((l) => l.startsWith(`conveyor_rate_limited_total{client="${client}",outcome="${outcome}"}`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  beforeEach(async () => {
    world = await makeWorld();
    tracker = await TrackerDouble.start();
    forge = await ForgeDouble.start();
    waits = [];
    tracker.setIssue({ id: 'issue-1', name: 'One', project: PROJECT, state: 'state-todo' });
  });

  afterEach(async () => {
    await world.close();
    await tracker.close();
    await forge.close();
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(retryAfterMs('30', now)).toBe(30_000);
    expect(retryAfterMs(new Date(now + 90_000).toUTCString(), now)).toBe(90_000);
    expect(retryAfterMs(new Date(now - 5_000).toUTCString(), now)).toBe(0);
    expect([retryAfterMs('soon', now), retryAfterMs(null, now)]).toEqual([null, null]);
  });

  it('waits as long as the tracker asks, tries again, and counts each wait', async () => {
    tracker.injected.rateLimit(2, '3');
    const res = await trackerClient().setIssueState(PROJECT, 'issue-1', 'state-dev');
    expect(res.ok).toBe(true);
    expect(waits).toEqual([3000, 3000]);
    expect(tracker.requestsTo('PATCH', '/issues/issue-1/')).toHaveLength(3);
    expect(tracker.issues.get('issue-1')?.state).toBe('state-dev');
    expect(await metric('tracker', 'waited')).toBe(2);
  });

  it('takes an HTTP date in Retry-After', async () => {
    tracker.injected.rateLimit(1, new Date(world.clock.now() + 7_000).toUTCString());
    const res = await trackerClient().setIssueState(PROJECT, 'issue-1', 'state-dev');
    expect(res.ok).toBe(true);
    // An HTTP date has whole seconds: the wait is up to a second shorter than the 7 s asked from mid-second.
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThan(6_000);
    expect(waits[0]).toBeLessThanOrEqual(7_000);
  });

  it('gives up at once when the wait asked is past the budget, with an alert and a metric', async () => {
    tracker.injected.rateLimit(1, '120');
    const res = await trackerClient(60_000).setIssueState(PROJECT, 'issue-1', 'state-dev');
    expect(res).toMatchObject({ ok: false, error: expect.stringContaining('429') });
    expect(waits).toEqual([]);
    expect(await metric('tracker', 'exhausted')).toBe(1);
    await world.until('the alert is stored', () => world.conveyor.alertBoard.list({ kind: 'rate_limited' }).length === 1);
    const [alert] = world.conveyor.alertBoard.list({ kind: 'rate_limited' });
    expect(alert?.message).toMatch(/tracker answered 429 to PATCH .*issue-1.* wait of 120 s, past the budget of 60 s/);
    expect(alert?.suggestedAction).toContain('limits.rateLimitBudgetMs');
  });

  it('holds a second call until the limit the first one heard has passed, without asking the server meanwhile', async () => {
    const client = trackerClient();
    tracker.injected.rateLimit(1, '10');
    await client.setIssueState(PROJECT, 'issue-1', 'state-dev');
    world.clock.increment(-4_000);
    const requestsBefore = tracker.requests.length;
    await client.setIssueState(PROJECT, 'issue-1', 'state-review');
    expect(waits).toEqual([10_000, 4_000]);
    expect(tracker.requests.length - requestsBefore).toBe(1);
  });

  it('merges once through a forge that rate-limits the merge call', async () => {
    const pr = forge.addPullRequest({ head: 'feature', headSha: 'a'.repeat(40) });
    const client = new ForgeClient({ repos: { shop: forge.config() }, rateLimit: limit('forge') });
    forge.injected.rateLimit(1, '2');
    const res = await client.mergePullRequest('shop', pr.number, { sha: 'a'.repeat(40) });
    expect(res.ok).toBe(true);
    expect(pr.merges).toBe(1);
    expect(waits).toEqual([2000]);
    expect(await metric('forge', 'waited')).toBe(1);
  });

  it('fails a forge call past the budget as retriable, so the effect is tried again later', async () => {
    const pr = forge.addPullRequest({ head: 'feature', headSha: 'a'.repeat(40) });
    const client = new ForgeClient({ repos: { shop: forge.config() }, rateLimit: limit('forge', 1_000) });
    forge.injected.rateLimit(1, null);
    const res = await client.getPullRequest('shop', pr.number);
    expect(res).toMatchObject({ ok: false, failure: { kind: 'unavailable', status: 429, retriable: true } });
    expect(await metric('forge', 'exhausted')).toBe(1);
  });
});
