/**
 * The live invocations of each task, each with what detaches it. Dropping a task's actor (after a
 * failure, or a commit that did not land) detaches them: their implementations see `detached()` and
 * leave the world they started running, for the rebuilt actor to re-attach.
 */
export class Invocations {
  readonly #live = new Map<string, Set<() => void>>();
  readonly #detaching = new Set<string>();

  track(taskId: string, detach: () => void): () => void {
    let set = this.#live.get(taskId);
    if (!set) this.#live.set(taskId, (set = new Set()));
    set.add(detach);
    return () => {
      set.delete(detach);
      if (set.size === 0 && this.#live.get(taskId) === set) this.#live.delete(taskId);
    };
  }

  detaching(taskId: string): boolean {
    return this.#detaching.has(taskId);
  }

  /** Runs `stop` (stopping the task's actor, say) and detaches every invocation it leaves live. */
  detach(taskId: string, stop: () => void): void {
    this.#detaching.add(taskId);
    try {
      stop();
      for (const detach of [...(this.#live.get(taskId) ?? [])]) detach();
    } finally {
      this.#detaching.delete(taskId);
    }
  }
}
