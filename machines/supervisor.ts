import { and, assign, emit, fromCallback, fromPromise, raise, sendTo, setup, type AnyEventObject } from 'xstate';
import { sweepLoop, type LoopTimerInput, type SweepLoopInput, type TimerFiredEvent } from './background-loop.ts';

export const SUPERVISOR_MACHINE_ID = 'supervisor';
/** Bump with every change to the supervisor's shape; a persisted snapshot names it. */
export const SUPERVISOR_VERSION = 1;

/** The background loops the supervisor keeps alive. */
export type ChildName = 'reconciler' | 'reaper';
export const CHILD_NAMES: readonly ChildName[] = ['reconciler', 'reaper'];

export interface SupervisorInput {
  now: number;
  children: Record<ChildName, { intervalMs: number; enabled: boolean }>;
  /** Restart n (within the window) waits baseMs * 2^(n-1), at most maxMs. */
  backoff: { baseMs: number; maxMs: number };
  /** More than maxRestarts restarts within ms marks the runtime degraded. */
  window: { ms: number; maxRestarts: number };
}

export interface SupervisorContext extends SupervisorInput {
  restarts: Record<ChildName, number>;
  /** Restarts still inside the window, oldest first. */
  recent: { name: ChildName; at: number }[];
  /** Absolute deadline of each child's restart backoff, or null. */
  deadlines: Record<ChildName, number | null>;
  /** When the window will have shed enough restarts to be healthy again. */
  healthDeadline: number | null;
  lastError: Record<ChildName, string | null>;
}

/** Every event the supervisor understands; `supervisor.restarted` is its own, raised between regions. */
export type SupervisorEvent =
  | TimerFiredEvent
  | { type: 'child.enable'; name: ChildName; at: number }
  | { type: 'child.disable'; name: ChildName; at: number }
  | { type: 'supervisor.reset'; at: number }
  | { type: 'supervisor.restarted'; name: ChildName; at: number };

/** What the supervisor tells the runtime: it turns these into log lines, alert records and notifications. */
export type SupervisorEmitted =
  | { type: 'supervisor.restart'; name: ChildName; at: number; delayMs: number; error: string | null }
  | { type: 'supervisor.degraded'; at: number; restarts: number; windowMs: number; maxRestarts: number }
  | { type: 'supervisor.recovered'; at: number };

const idleTimer = fromCallback<{ type: string }, LoopTimerInput>(() => undefined);
/** Reads the runtime's clock; a crash carries no time, and the machine reads none itself. */
const noClock = fromPromise<number>(() => new Promise<number>(() => undefined));

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

const inWindow = (ctx: SupervisorContext, at: number) => ctx.recent.filter((r) => r.at > at - ctx.window.ms);

/** The time at which the window holds no more than maxRestarts restarts again. */
function healthyAt(ctx: SupervisorContext, recent: SupervisorContext['recent']): number | null {
  const excess = recent.length - ctx.window.maxRestarts;
  return excess > 0 ? recent[excess - 1]!.at + ctx.window.ms : null;
}

function backoffMs(ctx: SupervisorContext, name: ChildName, recent: SupervisorContext['recent']): number {
  const n = Math.max(1, recent.filter((r) => r.name === name).length);
  return Math.min(ctx.backoff.maxMs, ctx.backoff.baseMs * 2 ** (n - 1));
}

type Args = { context: SupervisorContext; event: SupervisorEvent };
type ChildParams = { name: ChildName };

const supervisorSetup = setup({
  types: {
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    input: {} as SupervisorInput,
    emitted: {} as SupervisorEmitted,
  },
  actors: { reconciler: sweepLoop, reaper: sweepLoop, timer: idleTimer, now: noClock },
  guards: {
    isChild: ({ event }: Args, p: ChildParams) => 'name' in event && event.name === p.name,
    backoffDue: ({ context, event }: Args, p: ChildParams) =>
      event.type === 'timer.fired' && event.key === p.name && event.deadline === context.deadlines[p.name],
    healthDue: ({ context, event }: Args) => event.type === 'timer.fired' && event.key === 'health' && event.deadline === context.healthDeadline,
    overLimit: ({ context }: Args) => context.recent.length > context.window.maxRestarts,
    withinLimit: ({ context, event }: Args) => 'at' in event && inWindow(context, event.at).length <= context.window.maxRestarts,
  },
  actions: {
    setEnabled: assign(({ context, event }: Args) => {
      if (event.type !== 'child.enable' && event.type !== 'child.disable') return {};
      const entry = { ...context.children[event.name], enabled: event.type === 'child.enable' };
      return { children: { ...context.children, [event.name]: entry } };
    }),
    forward: sendTo(
      ({ event }: Args) => ('name' in event ? event.name : 'reconciler'),
      ({ event }: Args) => ({ type: event.type === 'child.enable' ? ('loop.enable' as const) : ('loop.disable' as const), at: 'at' in event ? event.at : 0 }),
    ),
    clearBackoff: assign(({ context }: Args, p: ChildParams) => ({ deadlines: { ...context.deadlines, [p.name]: null } })),
    pruneWindow: assign(({ context, event }: Args) => {
      if (!('at' in event)) return {};
      const recent = inWindow(context, event.at);
      return { recent, healthDeadline: healthyAt(context, recent) };
    }),
    resetWindow: assign({ recent: [], healthDeadline: null }),
    alertDegraded: emit(({ context, event }: Args) => ({
      type: 'supervisor.degraded' as const,
      at: 'at' in event ? event.at : 0,
      restarts: context.recent.length,
      windowMs: context.window.ms,
      maxRestarts: context.window.maxRestarts,
    })),
    alertRecovered: emit(({ event }: Args) => ({ type: 'supervisor.recovered' as const, at: 'at' in event ? event.at : 0 })),
  },
});

/** One child's region: running it, reading the clock after a crash, waiting out the backoff, running it again. */
function childRegion(name: ChildName) {
  const mine = { type: 'isChild', params: { name } } as const;
  const switchOnly = { 'child.enable': { guard: mine, actions: 'setEnabled' }, 'child.disable': { guard: mine, actions: 'setEnabled' } } as const;
  return {
    initial: 'running',
    states: {
      running: {
        invoke: {
          id: name,
          src: name,
          input: ({ context }: { context: SupervisorContext }): SweepLoopInput => ({
            name,
            intervalMs: context.children[name].intervalMs,
            enabled: context.children[name].enabled,
            now: context.now,
          }),
          onError: {
            target: 'crashed',
            actions: assign(({ context, event }: { context: SupervisorContext; event: AnyEventObject }) => ({
              lastError: { ...context.lastError, [name]: errorText((event as { error?: unknown }).error) },
            })),
          },
        },
        on: {
          'child.enable': { guard: mine, actions: ['setEnabled', 'forward'] },
          'child.disable': { guard: mine, actions: ['setEnabled', 'forward'] },
        },
      },
      crashed: {
        invoke: {
          id: `${name}Clock`,
          src: 'now',
          onDone: {
            target: 'backoff',
            actions: [
              assign(({ context, event }: { context: SupervisorContext; event: AnyEventObject }) => {
                const at = (event as unknown as { output: number }).output;
                const recent = [...inWindow(context, at), { name, at }];
                const delayMs = backoffMs(context, name, recent);
                return {
                  now: at,
                  recent,
                  restarts: { ...context.restarts, [name]: context.restarts[name] + 1 },
                  deadlines: { ...context.deadlines, [name]: at + delayMs },
                  healthDeadline: healthyAt(context, recent),
                };
              }),
              emit(({ context }: { context: SupervisorContext }) => ({
                type: 'supervisor.restart' as const,
                name,
                at: context.now,
                delayMs: (context.deadlines[name] ?? context.now) - context.now,
                error: context.lastError[name],
              })),
              raise(({ context }: { context: SupervisorContext }) => ({ type: 'supervisor.restarted' as const, name, at: context.now })),
            ],
          },
        },
        on: switchOnly,
      },
      backoff: {
        tags: ['backoff'],
        invoke: {
          id: `${name}Backoff`,
          src: 'timer',
          input: ({ context }: { context: SupervisorContext }): LoopTimerInput => ({ key: name, deadline: context.deadlines[name] }),
        },
        on: {
          'timer.fired': {
            guard: { type: 'backoffDue', params: { name } },
            target: 'running',
            actions: [{ type: 'clearBackoff', params: { name } }, assign({ now: ({ event }: Args) => ('at' in event ? event.at : 0) })],
          },
          ...switchOnly,
        },
      },
    },
  };
}

/**
 * Runs the reconciler and the reaper as invoked children with stable ids, restarts a child that fails with
 * exponential backoff, and marks the runtime degraded (and alerts) past maxRestarts restarts in the window.
 */
export const supervisor = supervisorSetup.createMachine({
  id: SUPERVISOR_MACHINE_ID,
  type: 'parallel',
  context: ({ input }) => ({
    ...input,
    restarts: { reconciler: 0, reaper: 0 },
    recent: [],
    deadlines: { reconciler: null, reaper: null },
    healthDeadline: null,
    lastError: { reconciler: null, reaper: null },
  }),
  states: {
    reconciler: childRegion('reconciler') as never,
    reaper: childRegion('reaper') as never,
    health: {
      initial: 'healthy',
      states: {
        healthy: {
          on: { 'supervisor.restarted': { guard: 'overLimit', target: 'degraded', actions: 'alertDegraded' } },
        },
        degraded: {
          tags: ['degraded'],
          invoke: {
            id: 'healthTimer',
            src: 'timer',
            input: ({ context }): LoopTimerInput => ({ key: 'health', deadline: context.healthDeadline }),
          },
          on: {
            // Re-entering re-arms the timer with the deadline the new restart moved.
            'supervisor.restarted': { target: 'degraded', reenter: true },
            'timer.fired': [
              { guard: and(['healthDue', 'withinLimit']), target: 'healthy', actions: ['pruneWindow', 'alertRecovered'] },
              { guard: 'healthDue', target: 'degraded', reenter: true, actions: 'pruneWindow' },
            ],
            'supervisor.reset': { target: 'healthy', actions: ['resetWindow', 'alertRecovered'] },
          },
        },
      },
    },
  },
});

export type SupervisorMachine = typeof supervisor;
