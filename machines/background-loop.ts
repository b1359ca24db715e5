import { assign, fromCallback, fromPromise, setup } from 'xstate';

export const SWEEP_LOOP_MACHINE_ID = 'sweepLoop';
/** Bump with every change to the loop's shape; a persisted supervisor snapshot names it. */
export const SWEEP_LOOP_VERSION = 1;

/** Input of the invoked `timer` actor: fire `timer.fired` with this key at the absolute deadline. */
export interface LoopTimerInput {
  key: string;
  deadline: number | null;
}

/** What the timer actor sends back when the deadline has come; `at` is the runtime's time then. */
export interface TimerFiredEvent {
  type: 'timer.fired';
  key: string;
  deadline: number;
  at: number;
}

/** Input of the invoked `sweep` actor: one pass over the units of work. */
export interface SweepInput {
  name: string;
  at: number;
}

/** What a finished sweep resolves with: the time it finished, from which the next deadline counts. */
export interface SweepOutput {
  at: number;
}

export interface SweepLoopInput {
  name: string;
  intervalMs: number;
  /** false starts the loop switched off (configuration's kill switch). */
  enabled: boolean;
  /** The time the loop is started at; the first sweep is due one interval later. */
  now: number;
}

export interface SweepLoopContext {
  name: string;
  intervalMs: number;
  startsEnabled: boolean;
  /** Absolute deadline of the next sweep: survives a restore, unlike an `after` delay. */
  nextAt: number | null;
  sweepStartedAt: number | null;
  ticks: number;
  failures: number;
  lastTickAt: number | null;
  lastError: string | null;
}

/** Every event the sweep loop understands. */
export type SweepLoopEvent =
  | TimerFiredEvent
  | { type: 'loop.disable'; at: number }
  | { type: 'loop.enable'; at: number };

/** Does nothing; actors/ provides the real timer and sweep. Keeps the chart loadable on its own. */
const idleTimer = fromCallback<{ type: string }, LoopTimerInput>(() => undefined);
const noSweep = fromPromise<SweepOutput, SweepInput>(({ input }) => Promise.resolve({ at: input.at }));

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/**
 * A background loop: `idle` until its deadline, `sweeping` while the invoked sweep runs, then `idle` again;
 * `disabled` is the kill switch. A sweep that fails is counted and the loop goes on (SPEC R24).
 */
export const sweepLoop = setup({
  types: {
    context: {} as SweepLoopContext,
    events: {} as SweepLoopEvent,
    input: {} as SweepLoopInput,
  },
  actors: { timer: idleTimer, sweep: noSweep },
  guards: {
    startsDisabled: ({ context }) => !context.startsEnabled,
    currentDeadline: ({ context, event }) => event.type === 'timer.fired' && event.key === 'loop' && event.deadline === context.nextAt,
  },
  actions: {
    markStart: assign({ sweepStartedAt: ({ event }) => ('at' in event ? event.at : null) }),
    armNow: assign({ nextAt: ({ event }) => ('at' in event ? event.at : null) }),
  },
}).createMachine({
  id: SWEEP_LOOP_MACHINE_ID,
  context: ({ input }) => ({
    name: input.name,
    intervalMs: input.intervalMs,
    startsEnabled: input.enabled,
    nextAt: input.now + input.intervalMs,
    sweepStartedAt: null,
    ticks: 0,
    failures: 0,
    lastTickAt: null,
    lastError: null,
  }),
  initial: 'starting',
  on: { 'loop.disable': '.disabled' },
  states: {
    starting: {
      always: [{ guard: 'startsDisabled', target: 'disabled' }, { target: 'idle' }],
    },
    idle: {
      tags: ['idle'],
      invoke: { id: 'timer', src: 'timer', input: ({ context }): LoopTimerInput => ({ key: 'loop', deadline: context.nextAt }) },
      on: { 'timer.fired': { guard: 'currentDeadline', target: 'sweeping', actions: 'markStart' } },
    },
    sweeping: {
      tags: ['sweeping'],
      invoke: {
        id: 'sweep',
        src: 'sweep',
        input: ({ context }): SweepInput => ({ name: context.name, at: context.sweepStartedAt ?? 0 }),
        onDone: {
          target: 'idle',
          actions: assign({
            ticks: ({ context }) => context.ticks + 1,
            lastTickAt: ({ event }) => event.output.at,
            nextAt: ({ context, event }) => event.output.at + context.intervalMs,
            lastError: null,
          }),
        },
        // A failed sweep is counted; the next one is due one interval after this one began.
        onError: {
          target: 'idle',
          actions: assign({
            failures: ({ context }) => context.failures + 1,
            lastError: ({ event }) => errorText(event.error),
            nextAt: ({ context }) => (context.sweepStartedAt ?? 0) + context.intervalMs,
          }),
        },
      },
    },
    disabled: {
      tags: ['disabled'],
      on: {
        'loop.disable': {},
        // Switched back on, the loop sweeps at once rather than one interval later.
        'loop.enable': { target: 'idle', actions: 'armNow' },
      },
    },
  },
});

export type SweepLoopMachine = typeof sweepLoop;
