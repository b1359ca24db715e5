import { Hono } from 'hono';
import { HttpError } from '../http-error.ts';

/** What export needs of a machine: its config and resolved definition. */
export interface ExportableMachine {
  config: unknown;
  definition: unknown;
}

export interface MachineEntry {
  machine: ExportableMachine;
  version: number;
}

type GuardRef = string | { type: string; params?: unknown } | ((...args: never[]) => unknown);

/** A guard's readable name: `and(currentJob, exitedCleanly)` for xstate's higher-order guards. */
function guardName(guard: GuardRef): string {
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const inner = (guard as { guards?: GuardRef[] }).guards;
    return inner ? `${guard.name || 'guard'}(${inner.map(guardName).join(', ')})` : guard.name || 'guard';
  }
  return guard.params === undefined ? guard.type : `${guard.type}(${JSON.stringify(guard.params)})`;
}

/**
 * JSON of a machine config: a combined guard keeps its name and parts; other functions (input mappers)
 * cannot be imported by Stately Studio and are dropped.
 */
function plain(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (key, v: unknown) => {
      if (key === 'guard' && typeof v === 'function') return { type: guardName(v as GuardRef) };
      return typeof v === 'function' ? undefined : v;
    }),
  );
}

/** Source that Stately Studio's "import from code" opens: createMachine() over the machine's own config. */
export function toStatelySource(machine: ExportableMachine): string {
  const config = JSON.stringify(plain(machine.config), null, 2);
  return `import { createMachine } from 'xstate';\n\nexport const machine = createMachine(${config});\n`;
}

/** A machine's definition as JSON: its config (as Stately Studio reads it) and the resolved definition. */
export function machineJson(id: string, entry: MachineEntry) {
  return { id, version: entry.version, config: plain(entry.machine.config), definition: plain(entry.machine.definition) };
}

/** /api/machines: every machine's definition, as JSON or as Stately source. */
export function machinesApi(machines: Record<string, MachineEntry>) {
  const app = new Hono();
  app.get('/', (c) => c.json({ machines: Object.entries(machines).map(([id, m]) => ({ id, version: m.version })) }));
  app.get('/:id', (c) => {
    const id = c.req.param('id');
    const entry = machines[id];
    if (!entry) throw new HttpError('not_found', `machine ${id} does not exist`, 'id');
    const format = c.req.query('format') ?? 'json';
    if (format === 'stately') return c.text(toStatelySource(entry.machine), 200, { 'content-type': 'text/javascript; charset=utf-8' });
    if (format !== 'json') throw new HttpError('invalid_payload', `format must be json or stately, not ${format}`, 'format');
    return c.json(machineJson(id, entry));
  });
  return app;
}
