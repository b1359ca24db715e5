import type { Clock } from './clock.ts';

/**
 * One timer for many sleeping tasks: a task whose only pending work is a far deadline is dropped
 * from memory and woken a margin before it, so idle tasks cost a heap entry, not a live actor.
 */
export class Wakeups {
  /** taskId → the time it wants waking; a heap entry that disagrees is stale. */
  private readonly due = new Map<string, number>();
  private heap: { at: number; taskId: string }[] = [];
  private timer: { at: number; handle: unknown } | null = null;

  constructor(private readonly clock: Clock, private readonly wake: (taskId: string) => void) {}

  schedule(taskId: string, at: number): void {
    this.due.set(taskId, at);
    this.push({ at, taskId });
    this.arm();
  }

  cancel(taskId: string): void {
    this.due.delete(taskId);
  }

  size(): number {
    return this.due.size;
  }

  stop(): void {
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    this.timer = null;
    this.due.clear();
    this.heap = [];
  }

  private arm(): void {
    const next = this.heap[0];
    if (!next || (this.timer && this.timer.at <= next.at)) return;
    if (this.timer) this.clock.clearTimeout(this.timer.handle);
    const handle = this.clock.setTimeout(() => this.fire(), Math.max(0, next.at - this.clock.now()));
    this.timer = { at: next.at, handle };
  }

  private fire(): void {
    this.timer = null;
    const now = this.clock.now();
    while (this.heap[0] && this.heap[0].at <= now) {
      const { taskId, at } = this.pop()!;
      if (this.due.get(taskId) !== at) continue;
      this.due.delete(taskId);
      this.wake(taskId);
    }
    this.arm();
  }

  private push(item: { at: number; taskId: string }): void {
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (h[parent]!.at <= h[i]!.at) break;
      [h[parent], h[i]] = [h[i]!, h[parent]!];
      i = parent;
    }
  }

  private pop(): { at: number; taskId: string } | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && h[l]!.at < h[m]!.at) m = l;
        if (r < h.length && h[r]!.at < h[m]!.at) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i]!, h[m]!];
        i = m;
      }
    }
    return top;
  }
}
