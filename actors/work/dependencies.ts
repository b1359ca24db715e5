import { DependencyGraph } from '../dependency-graph.ts';
import type { Runtime } from '../runtime.ts';
import type { Scheduler } from '../scheduler.ts';
import type { CommittedTransition } from '../types.ts';

interface Declaration {
  kind: 'dependencies';
  taskId: string;
  dependsOn: string[];
}

export type DeclareOutcome = { ok: true; waitingOn: string[]; unknown: string[] } | { ok: false; cycle: string[] };

/** Task dependencies (SPEC R14): declared, persisted, checked for cycles, and released when a task is done. */
export class Dependencies {
  private readonly graph = new DependencyGraph();

  constructor(private readonly runtime: Runtime, private readonly scheduler: Scheduler) {}

  /** Rebuilds the graph from persisted declarations and the tasks already done. */
  load(): void {
    const declarations = this.runtime.list<Declaration>('meta').filter((d) => d.kind === 'dependencies');
    const done = declarations.flatMap((d) => d.dependsOn).filter((id) => this.runtime.describe(id) === 'done');
    this.graph.load({ declarations, done: new Set(done) });
  }

  isRunnable(taskId: string): boolean {
    return this.graph.isRunnable(taskId);
  }

  waitingOn(taskId: string): string[] {
    return this.graph.waitingOn(taskId);
  }

  async declare(taskId: string, dependsOn: string[]): Promise<DeclareOutcome> {
    const known = (id: string) => this.runtime.describe(id) !== '';
    const result = this.graph.declare(taskId, dependsOn, known);
    if (!result.ok) {
      const path = result.cycle.join(' → ');
      const at = this.runtime.clock.now();
      await this.runtime.write([{ kind: 'put', collection: 'alerts', id: `dependency-cycle:${taskId}:${at}`, value: { kind: 'dependency_cycle', at, cycle: result.cycle } }]);
      for (const id of new Set(result.cycle)) {
        await this.runtime.send(id, { type: 'task.hold', reason: `dependency cycle: ${path}` }, { source: 'runtime' }).catch(() => undefined);
      }
      return result;
    }
    const waiting = dependsOn.filter((id) => known(id));
    const value: Declaration = { kind: 'dependencies', taskId, dependsOn: waiting };
    await this.runtime.write([{ kind: 'put', collection: 'meta', id: `deps:${taskId}`, value }]);
    if (result.unknown.length > 0) {
      // Fails open: an unknown task is not waited on, and the task's history says so.
      await this.runtime.annotate(taskId, {
        source: 'operator', accepted: false,
        event: { type: 'dependency.unknown', taskIds: result.unknown },
        reason: `warning: unknown dependencies ${result.unknown.join(', ')} are not waited on`,
      });
    }
    this.scheduler.reconsider([taskId]);
    return { ok: true, waitingOn: this.graph.waitingOn(taskId), unknown: result.unknown };
  }

  /** A task reaching done releases its dependents' queued jobs and tells them by event. */
  onCommitted(t: CommittedTransition): void {
    if (t.to !== 'done') return;
    const dependents = this.graph.dependentsOf(t.taskId);
    const unblocked = this.graph.markDone(t.taskId);
    this.scheduler.reconsider(unblocked);
    for (const id of dependents) {
      void this.runtime.send(id, { type: 'dependency.done', taskId: t.taskId }, { source: 'runtime' }).catch(() => undefined);
    }
  }
}
