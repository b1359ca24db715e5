import { describe, expect, it } from 'vitest';
import { Runtime, Workbench } from '../../actors/index.ts';
import { SimClock } from '../../sim/clock.ts';
import { SimDisk } from '../../sim/disk.ts';
import { SimRandom } from '../../sim/random.ts';
import { EmbeddedStore } from '../../store/index.ts';

const START = Date.UTC(2026, 0, 5, 9);

describe("the forge's rate limit", () => {
  it("waits out a 429's Retry-After on the runtime's clock", async () => {
    const clock = new SimClock(START);
    const calls: number[] = [];
    const fetch = (async () => {
      calls.push(clock.now());
      return calls.length === 1
        ? new Response('{}', { status: 429, headers: { 'retry-after': '30' } })
        : new Response(JSON.stringify({ number: 7, state: 'open', merged: false, head: { sha: 'abc' } }), { status: 200 });
    }) as typeof globalThis.fetch;
    const fs = new SimDisk(new SimRandom(1)).view({ alive: () => true });
    const workbench = new Workbench({
      dataDir: '/data',
      repos: [{ name: 'acme/shop', remote: 'sim://acme/shop', targetBranch: 'main', forge: { kind: 'gitea', apiBase: 'http://forge.test/api/v1', owner: 'acme', repo: 'shop', token: 't' } }],
      world: { fs, fetch },
    });
    const store = new EmbeddedStore({ dir: '/data/store', fs, clock });
    await store.load();
    workbench.attach(new Runtime({ store, clock }));

    let answered = false;
    const asked = workbench.effects.forge.getPullRequest('acme/shop', 7).then((r) => ((answered = true), r));
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([START]);
    expect(answered, 'still waiting: no simulated time has passed').toBe(false);
    expect(clock.runNext(Infinity), 'the wait is a timer on the runtime clock').toBe(true);
    expect((await asked).ok).toBe(true);
    expect(calls).toEqual([START, START + 30_000]);
  });
});
