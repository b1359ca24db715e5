import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { EmbeddedStore, type EmbeddedStoreOptions } from '../../store/index.ts';

/** Embedded stores on real files under a temp directory made before each test; closed and removed after it. */
export function tempStores(prefix: string) {
  let root = '';
  const opened: EmbeddedStore[] = [];
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), prefix));
  });
  afterEach(async () => {
    for (const store of opened.splice(0)) await store.close().catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });
  return {
    /** The test's temp directory. */
    get root(): string {
      return root;
    },
    /** A store on `root/<name>` (default `data`), loaded, closed after the test. */
    async open(options: Partial<EmbeddedStoreOptions> = {}, name = 'data'): Promise<EmbeddedStore> {
      const store = new EmbeddedStore({ dir: join(root, name), ...options });
      opened.push(store);
      await store.load();
      return store;
    },
  };
}
