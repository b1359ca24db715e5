/** A task cannot be restored: its persisted machine id or version is not one this build can run. */
export class TaskRestoreError extends Error {
  constructor(readonly taskId: string, message: string) {
    super(`runtime: task ${taskId}: ${message}`);
    this.name = 'TaskRestoreError';
  }
}

/** The runtime will not start: some persisted tasks cannot be restored; each line names one. */
export class RuntimeRefusedError extends Error {
  constructor(readonly problems: string[]) {
    super(`runtime: refusing to start, ${problems.length} task(s) cannot be restored:\n  ${problems.join('\n  ')}`);
    this.name = 'RuntimeRefusedError';
  }
}

/** The runtime is shutting down and takes no new events; the sender should retry later. */
export class RuntimeStoppingError extends Error {
  constructor() {
    super('runtime: shutting down, not accepting events');
    this.name = 'RuntimeStoppingError';
  }
}

/** The task's chart threw while taking an event: nothing was applied; the sender should retry. */
export class TaskEventError extends Error {
  constructor(readonly taskId: string, readonly eventType: string, readonly state: string, readonly reason: string) {
    super(`runtime: task ${taskId} failed to take ${eventType} in ${state}: ${reason}; nothing was applied, the task stays in ${state}`);
    this.name = 'TaskEventError';
  }
}

/** The chart names actions, guards or actors that nothing implements: conveyor refuses to run. */
export class MissingImplementationError extends Error {
  constructor(readonly missing: string[]) {
    super(`runtime: refusing to start, the task chart names what has no implementation: ${missing.join(', ')}`);
    this.name = 'MissingImplementationError';
  }
}
