/** Binary min-heap that tells each item its position, so any item can be removed or re-keyed in O(log n). */
export class IndexedHeap<T> {
  private readonly items: T[] = [];
  private readonly before: (a: T, b: T) => boolean;
  private readonly place: (item: T, index: number) => void;

  constructor(before: (a: T, b: T) => boolean, place: (item: T, index: number) => void = () => undefined) {
    this.before = before;
    this.place = place;
  }

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(item: T): void {
    this.items.push(item);
    this.place(item, this.items.length - 1);
    this.up(this.items.length - 1);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.removeAt(0);
    return top;
  }

  removeAt(i: number): void {
    const removed = this.items[i] as T;
    const last = this.items.pop() as T;
    this.place(removed, -1);
    if (i < this.items.length) {
      this.items[i] = last;
      this.place(last, i);
      this.update(i);
    }
  }

  /** Restores the order after the key of the item at `i` changed. */
  update(i: number): void {
    this.down(this.up(i));
  }

  private up(i: number): number {
    const item = this.items[i] as T;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = this.items[parent] as T;
      if (!this.before(item, p)) break;
      this.items[i] = p;
      this.place(p, i);
      i = parent;
    }
    this.items[i] = item;
    this.place(item, i);
    return i;
  }

  private down(i: number): void {
    const item = this.items[i] as T;
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && this.before(this.items[r] as T, this.items[l] as T) ? r : l;
      const c = this.items[child] as T;
      if (!this.before(c, item)) break;
      this.items[i] = c;
      this.place(c, i);
      i = child;
    }
    this.items[i] = item;
    this.place(item, i);
  }
}
