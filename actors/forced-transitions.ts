import type { TaskContext, TaskEvent, TaskMachine } from '../machines/index.ts';

type Persisted = { value: unknown; context: TaskContext; historyValue?: Record<string, { id: string }[]>; [key: string]: unknown };

/** The message of whatever was thrown, for a history entry, an alert or a failure event. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  try {
    return JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}

/**
 * The snapshot a task.cancel or task.hold leads to when the chart's own transition cannot be taken
 * (it threw, or the persisted snapshot is in error): a task always takes them. Cancelling ends the
 * task; holding parks it where task.resume returns it to the state it was in. Null when the event is
 * neither, or a hold of a task that is not in a pipeline stage.
 */
export function forcedSnapshot(machine: TaskMachine, persisted: Persisted, event: TaskEvent): Persisted | null {
  const { error: _error, ...rest } = persisted;
  if (event.type === 'task.cancel') return { ...rest, status: 'done', value: 'cancelled', children: {}, output: undefined };
  if (event.type !== 'task.hold') return null;
  const value = persisted.value as Record<string, unknown> | string;
  if (typeof value !== 'object' || !('active' in value)) return null;
  const resolved = machine.resolveState({ value: value as never, context: persisted.context as never }) as unknown as { _nodes: { id: string; type: string }[] };
  const leaves = resolved._nodes.filter((n) => n.type === 'atomic' && n.id.startsWith('task.active.')).map((n) => ({ id: n.id }));
  return {
    ...rest,
    status: 'active',
    value: 'onHold',
    context: { ...persisted.context, hold: { reason: event.reason }, deadline: null },
    children: {},
    historyValue: { ...persisted.historyValue, 'task.active.hist': leaves },
  };
}
