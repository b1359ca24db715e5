import type { Clock } from './clock.ts';
import { IndexedHeap } from './indexed-heap.ts';

interface Sleeper {
  taskId: string;
  at: number;
  /** Position in the heap, -1 once out of it. */
  index: number;
}

/**
 * One timer for many sleeping tasks: a task whose only pending work is a far deadline is dropped
 * from memory and woken a margin before it, so idle tasks cost a heap entry, not a live actor.
 */
export class Wakeups {
  private readonly sleepers = new Map<string, Sleeper>();
  private readonly heap = new IndexedHeap<Sleeper>((a, b) => a.at < b.at, (s, i) => (s.index = i));
  private timer: { at: number; handle: unknown } | null = null;

  constructor(private readonly clock: Clock, private readonly wake: (taskId: string) => void) {}

  /** Sleeps a task until `at`; a task already asleep moves to the new time. */
  schedule(taskId: string, at: number): void {
    const known = this.sleepers.get(taskId);
    if (known) {
      known.at = at;
      this.heap.update(known.index);
    } else {
      const sleeper = { taskId, at, index: -1 };
      this.sleepers.set(taskId, sleeper);
      this.heap.push(sleeper);
    }
    this.arm();
  }

  cancel(taskId: string): void {
    const known = this.sleepers.get(taskId);
    if (!known) return;
    this.sleepers.delete(taskId);
    this.heap.removeAt(known.index);
  }

  size(): number {
    return this.sleepers.size;
  }

  stop(): void {
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    this.timer = null;
    for (const taskId of [...this.sleepers.keys()]) this.cancel(taskId);
  }

  private arm(): void {
    const next = this.heap.peek();
    if (!next || (this.timer && this.timer.at <= next.at)) return;
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    const handle = this.clock.setTimeout(() => this.fire(), Math.max(0, next.at - this.clock.now()));
    this.timer = { at: next.at, handle };
  }

  private fire(): void {
    this.timer = null;
    const now = this.clock.now();
    for (let next = this.heap.peek(); next && next.at <= now; next = this.heap.peek()) {
      this.cancel(next.taskId);
      this.wake(next.taskId);
    }
    this.arm();
  }
}
