import type { AnyActorLogic } from 'xstate';
import type { TaskMachine } from '../machines/index.ts';

type Named = string | { type?: unknown } | ((...args: never[]) => unknown) | undefined;

interface NodeShape {
  id: string;
  states: Record<string, NodeShape>;
  entry: Named[];
  exit: Named[];
  invoke: { src: unknown }[];
  always?: { guard?: Named; actions: Named[] }[];
  transitions: Map<string, { guard?: Named; actions: Named[] }[]>;
}

/** The name a chart reference asks for, or null for an inline or built-in one (assign, emit, and, ...). */
function nameOf(ref: Named): string | null {
  if (typeof ref === 'string') return ref;
  if (ref && typeof ref === 'object' && typeof ref.type === 'string') return ref.type;
  return null;
}

/** The named guards inside a guard, including those combined with and / or / not. */
function guardNames(guard: Named, out: string[]): void {
  const name = nameOf(guard);
  if (name !== null) out.push(name);
  const inner = (guard as { guards?: Named[] } | undefined)?.guards;
  if (Array.isArray(inner)) for (const g of inner) guardNames(g, out);
}

/**
 * Every action, guard and invoked actor the chart names that nothing implements, as
 * "action x at state.path". An action or guard with no implementation would silently do nothing;
 * an invoked actor the runtime does not provide would leave its state waiting for nothing.
 */
export function missingImplementations(machine: TaskMachine, actors: Partial<Record<string, AnyActorLogic>>): string[] {
  const impl = machine.implementations as unknown as { actions: Record<string, unknown>; guards: Record<string, unknown> };
  const missing = new Set<string>();
  const action = (ref: Named, at: string) => {
    const name = nameOf(ref);
    if (name !== null && !name.startsWith('xstate.') && !impl.actions[name]) missing.add(`action ${name} at ${at}`);
  };
  const guard = (ref: Named, at: string) => {
    const names: string[] = [];
    guardNames(ref, names);
    for (const name of names) if (!name.startsWith('xstate.') && !impl.guards[name]) missing.add(`guard ${name} at ${at}`);
  };
  const visit = (node: NodeShape) => {
    for (const a of [...node.entry, ...node.exit]) action(a, node.id);
    for (const inv of node.invoke) {
      if (typeof inv.src === 'string' && !actors[inv.src]) missing.add(`actor ${inv.src} at ${node.id}`);
    }
    const transitions = [...node.transitions.values()].flat().concat(node.always ?? []);
    for (const t of transitions) {
      guard(t.guard, node.id);
      for (const a of t.actions) action(a, node.id);
    }
    for (const child of Object.values(node.states)) visit(child);
  };
  visit(machine.root as unknown as NodeShape);
  return [...missing];
}
