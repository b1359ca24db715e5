import type { Clock } from '../clock.ts';
import type { LogLine } from '../log.ts';
import type { RetentionPolicy } from './retention.ts';

export interface RetentionLoopOptions {
  /** One sweep; resolves with how many tasks it archived. */
  sweep(policy: RetentionPolicy): Promise<number>;
  policy: RetentionPolicy & { intervalMs: number };
  clock: Clock;
  log: LogLine;
}

/**
 * Runs the retention sweep (SPEC R40) every `intervalMs` on the runtime's clock, one sweep at a time; a
 * failed sweep keeps everything and the next one tries again. start() and stop() are idempotent.
 */
export class RetentionLoop {
  readonly stats = { sweeps: 0, archived: 0, failures: 0 };
  readonly #o: RetentionLoopOptions;
  #timer: unknown = null;
  #running: Promise<void> | null = null;
  #stopped = false;

  constructor(o: RetentionLoopOptions) {
    this.#o = o;
  }

  start(): void {
    if (this.#timer !== null || this.#stopped) return;
    this.#arm();
  }

  /** Stops the loop and waits for a sweep in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) this.#o.clock.clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  #arm(): void {
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#running = this.#sweep().finally(() => {
        this.#running = null;
        if (!this.#stopped) this.#arm();
      });
    }, this.#o.policy.intervalMs);
  }

  async #sweep(): Promise<void> {
    try {
      const moved = await this.#o.sweep(this.#o.policy);
      this.stats.sweeps++;
      this.stats.archived += moved;
      if (moved > 0) this.#o.log(`retention: archived ${moved} finished tasks`);
    } catch (e) {
      this.stats.failures++;
      this.#o.log(`retention: sweep failed, kept everything: ${(e as Error).message}`, { level: 'warn' });
    }
  }
}
