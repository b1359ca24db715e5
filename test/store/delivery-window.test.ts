import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempStores } from '../support/temp-stores.ts';
import type { EmbeddedStoreOptions } from '../../store/index.ts';

const stores = tempStores('conveyor-deliveries-');
const openStore = (options: Partial<EmbeddedStoreOptions> = {}) => stores.open(options);

describe('delivery keys', () => {
  it('are remembered across restarts, from the journal and from a checkpoint, and forgotten past the window', async () => {
    const store = await openStore();
    await store.commit([{ kind: 'delivery', key: 'github:old', at: 1_000, taskId: 't1' }]);
    await store.commit([{ kind: 'delivery', key: 'github:new', at: 2_000 }]);
    // A redelivery keeps the first sighting's time.
    await store.commit([{ kind: 'delivery', key: 'github:old', at: 3_000 }]);
    expect(store.hasDelivery('github:old')).toBe(true);
    expect(store.hasDelivery('github:other')).toBe(false);
    expect(store.hasDeliveryBefore(1_000)).toBe(false);
    expect(store.hasDeliveryBefore(1_001)).toBe(true);

    // The journal holds them: the directory as a crash would leave it has them.
    await cp(join(stores.root, 'data'), join(stores.root, 'crashed'), { recursive: true });
    const fromJournal = await stores.open({}, 'crashed');
    expect(fromJournal.stats().checkpoints).toBe(0);
    expect([fromJournal.hasDelivery('github:old'), fromJournal.hasDelivery('github:new'), fromJournal.hasDelivery('github:other')]).toEqual([true, true, false]);

    await store.close();
    const checkpoint = await readFile(join(stores.root, 'data', 'checkpoint.json'), 'utf8');
    // Packed hashes, not the keys.
    expect(checkpoint).not.toContain('github:old');
    const reopened = await openStore();
    expect([reopened.hasDelivery('github:old'), reopened.hasDelivery('github:new'), reopened.hasDelivery('github:other')]).toEqual([true, true, false]);
    expect(reopened.hasDeliveryBefore(1_001)).toBe(true);

    await reopened.commit([{ kind: 'pruned', before: 1_500 }]);
    expect(reopened.hasDelivery('github:old')).toBe(false);
    expect(reopened.hasDelivery('github:new')).toBe(true);
    expect(reopened.hasDeliveryBefore(1_500)).toBe(false);
    expect(reopened.hasDeliveryBefore(2_001)).toBe(true);
    await reopened.close();
    const again = await openStore();
    expect([again.hasDelivery('github:old'), again.hasDelivery('github:new')]).toEqual([false, true]);
  });

  it('hold many keys in a small checkpoint and find each one after a restart', async () => {
    const store = await openStore({ checkpointEvery: 1e9 });
    const keys = Array.from({ length: 20_000 }, (_, i) => `forge:delivery:${i}:${'x'.repeat(40)}`);
    for (let i = 0; i < keys.length; i += 1000) {
      await store.commit(keys.slice(i, i + 1000).map((key, j) => ({ kind: 'delivery' as const, key, at: i + j })));
    }
    await store.close();
    const bytes = (await readFile(join(stores.root, 'data', 'checkpoint.json'))).length;
    // 16 bytes a key in base64, whatever the key's length.
    expect(bytes).toBeLessThan(keys.length * 23);
    const reopened = await openStore();
    expect(keys.every((key) => reopened.hasDelivery(key))).toBe(true);
    expect(keys.some((key) => reopened.hasDelivery(`${key}!`))).toBe(false);
    await reopened.commit([{ kind: 'pruned', before: 10_000 }]);
    expect(keys.filter((key) => reopened.hasDelivery(key))).toEqual(keys.slice(10_000));
  });

  it('and history are read from a checkpoint of the layout that held them inline', async () => {
    const dir = join(stores.root, 'data');
    await mkdir(dir, { recursive: true });
    const entry = { at: 5, source: 'webhook', event: { type: 'ci.status' }, accepted: true, from: 'review', to: 'review' };
    const task = { id: 't1', machineId: 'task', version: 1, rev: 1, meta: { repo: 'acme/web', title: 'Old', branch: 'b', createdAt: 1 }, snapshot: { value: 'review' } };
    const doc = { tasks: { t1: task }, history: { t1: [entry, { ...entry, at: 6 }] }, deliveries: { 'gh-1': { at: 5, taskId: 't1' } }, issues: {}, collections: { decisions: {}, jobs: {}, effects: {}, alerts: {}, meta: {} } };
    await writeFile(join(dir, 'checkpoint.json'), JSON.stringify({ format: 1, seq: 0, doc }));
    const store = await openStore();
    expect(store.getHistory('t1')).toEqual([entry, { ...entry, at: 6 }]);
    expect(store.hasDelivery('gh-1')).toBe(true);
    await store.close();
    const reopened = await openStore();
    expect(reopened.getHistory('t1')).toEqual([entry, { ...entry, at: 6 }]);
    expect(reopened.hasDelivery('gh-1')).toBe(true);
    expect(reopened.getTask('t1')?.rev).toBe(1);
  });
});
