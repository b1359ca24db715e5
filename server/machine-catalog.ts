import { SUPERVISOR_MACHINE_ID, SWEEP_LOOP_MACHINE_ID, TASK_MACHINE_VERSION, supervisor, sweepLoop, type TaskMachine } from '../machines/index.ts';

/** Every machine conveyor runs, by id, with its version: what /api/machines and `conveyor export` show. */
export function machineCatalog(task: TaskMachine) {
  return {
    task: { machine: task, version: TASK_MACHINE_VERSION },
    [SUPERVISOR_MACHINE_ID]: { machine: supervisor, version: 1 },
    [SWEEP_LOOP_MACHINE_ID]: { machine: sweepLoop, version: 1 },
  };
}

export type CatalogEntry = ReturnType<typeof machineCatalog>[keyof ReturnType<typeof machineCatalog>];
