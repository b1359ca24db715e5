/**
 * Runs work one piece at a time per key, in the order it was asked for; different keys run side by
 * side. Each owner (a runtime, a merge queue, a repository's worktrees) holds its own, so nothing is
 * shared between conveyors in one process. A failure is its caller's: the next piece runs all the same.
 * Keys with nothing queued are forgotten.
 */
export class KeyedSerial {
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(key: string, work: () => T | Promise<T>): Promise<T> {
    const result = (this.#tails.get(key) ?? Promise.resolve()).then(work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }

  /** Settles once everything queued so far under `key` has run. */
  settled(key: string): Promise<void> {
    return this.#tails.get(key) ?? Promise.resolve();
  }

  /** Settles once everything queued so far, under every key, has run. */
  async drained(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all([...this.#tails.values()]);
  }

  /** Keys with work running or waiting. */
  get size(): number {
    return this.#tails.size;
  }
}
