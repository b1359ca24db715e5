/** The outcome of declaring a task's dependencies. */
export type DeclareResult =
  | { ok: true; unknown: string[] }
  /** The task ids around the cycle, starting and ending with the declared task: `[a, b, c, a]`. */
  | { ok: false; cycle: string[] };

/** The persisted form of the graph: each task's recorded dependencies and the tasks that are done. */
export interface DependencyGraphState {
  declarations: Iterable<{ taskId: string; dependsOn: readonly string[] }>;
  done: Iterable<string>;
}

/**
 * Which tasks wait for which, and whether a task may run.
 *
 * A task is runnable when every recorded dependency is done. A dependency that is removed (its task was cancelled)
 * is never done, so its dependents keep waiting until an operator declares their dependencies again: a cancelled
 * prerequisite does not count as delivered. `remove` returns those dependents so the caller can raise an alert.
 */
export class DependencyGraph {
  private readonly deps = new Map<string, Set<string>>();
  private readonly dependents = new Map<string, Set<string>>();
  /** Dependencies not yet done, only for tasks that have some. */
  private readonly waiting = new Map<string, Set<string>>();
  private readonly done = new Set<string>();

  /**
   * Records that `taskId` waits for `dependsOn`, replacing its earlier declaration.
   *
   * Ids that `known` does not recognise fail open: they are returned and not waited on. A declaration that would
   * close a cycle records nothing.
   */
  declare(taskId: string, dependsOn: readonly string[], known: (id: string) => boolean): DeclareResult {
    const wanted = [...new Set(dependsOn)];
    if (wanted.includes(taskId)) return { ok: false, cycle: [taskId, taskId] };
    const unknown = wanted.filter((id) => !known(id));
    const recorded = wanted.filter((id) => !unknown.includes(id));
    // Only a task something already waits on can close a cycle; most declarations skip the search.
    const cycle = this.dependents.has(taskId) ? this.pathBack(taskId, recorded) : undefined;
    if (cycle !== undefined) return { ok: false, cycle };
    this.forget(taskId);
    this.record(taskId, recorded);
    return { ok: true, unknown };
  }

  /** Marks a task done and returns its dependents that no longer wait for anything. */
  markDone(taskId: string): string[] {
    if (this.done.has(taskId)) return [];
    this.done.add(taskId);
    const unblocked: string[] = [];
    for (const dependent of this.dependents.get(taskId) ?? []) {
      const left = this.waiting.get(dependent);
      if (left === undefined || !left.delete(taskId)) continue;
      if (left.size === 0) {
        this.waiting.delete(dependent);
        unblocked.push(dependent);
      }
    }
    return unblocked;
  }

  isRunnable(taskId: string): boolean {
    return !this.waiting.has(taskId);
  }

  /** The dependencies of a task that are not done yet. */
  waitingOn(taskId: string): string[] {
    return [...(this.waiting.get(taskId) ?? [])];
  }

  /** The tasks that declared a dependency on `taskId`. */
  dependentsOf(taskId: string): string[] {
    return [...(this.dependents.get(taskId) ?? [])];
  }

  /** Drops a cancelled task's own declaration; returns the dependents that keep waiting on it. */
  remove(taskId: string): string[] {
    this.forget(taskId);
    if (this.done.has(taskId)) return [];
    return this.dependentsOf(taskId);
  }

  /** Replaces the whole graph with persisted declarations and done tasks, trusting them (no cycle check). */
  load(state: DependencyGraphState): void {
    this.deps.clear();
    this.dependents.clear();
    this.waiting.clear();
    this.done.clear();
    for (const id of state.done) this.done.add(id);
    for (const { taskId, dependsOn } of state.declarations) {
      this.forget(taskId);
      this.record(taskId, [...new Set(dependsOn)]);
    }
  }

  /** The state `load` takes back. */
  dump(): { declarations: { taskId: string; dependsOn: string[] }[]; done: string[] } {
    const declarations = [...this.deps].map(([taskId, deps]) => ({ taskId, dependsOn: [...deps] }));
    return { declarations, done: [...this.done] };
  }

  private record(taskId: string, dependsOn: readonly string[]): void {
    if (dependsOn.length === 0) return;
    this.deps.set(taskId, new Set(dependsOn));
    for (const dep of dependsOn) {
      const set = this.dependents.get(dep);
      if (set === undefined) this.dependents.set(dep, new Set([taskId]));
      else set.add(taskId);
    }
    const open = dependsOn.filter((dep) => !this.done.has(dep));
    if (open.length > 0) this.waiting.set(taskId, new Set(open));
  }

  private forget(taskId: string): void {
    for (const dep of this.deps.get(taskId) ?? []) {
      const set = this.dependents.get(dep);
      set?.delete(taskId);
      if (set?.size === 0) this.dependents.delete(dep);
    }
    this.deps.delete(taskId);
    this.waiting.delete(taskId);
  }

  /**
   * The shortest path from one of `starts` back to `taskId` along recorded dependencies, as a cycle through
   * `taskId`; breadth first so a deep chain cannot overflow the stack.
   */
  private pathBack(taskId: string, starts: readonly string[]): string[] | undefined {
    const parent = new Map<string, string>();
    const queue: string[] = [];
    for (const start of starts) {
      parent.set(start, taskId);
      queue.push(start);
    }
    for (let head = 0; head < queue.length; head++) {
      const node = queue[head] as string;
      for (const next of this.deps.get(node) ?? []) {
        if (next === taskId) {
          const back = [taskId, node];
          for (let at = node; at !== taskId; ) {
            at = parent.get(at) as string;
            back.push(at);
          }
          return back.reverse();
        }
        if (!parent.has(next)) {
          parent.set(next, node);
          queue.push(next);
        }
      }
    }
    return undefined;
  }
}
