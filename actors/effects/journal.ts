import { fromCallback, type EventObject } from 'xstate';
import type { EffectInput, EffectName } from '../../machines/index.ts';
import type { RuntimeHandle } from '../types.ts';
import { classifyError, EffectAbandonedError } from './errors.ts';
import { readEffect, updateEffect, type EffectRecord, type Reconciliation } from './records.ts';

/** What the outside world says of an effect an earlier boot started: done (with its result), not done, or unknown (why). */
export type Reconciled<R> = { done: R } | { notDone: true } | { unknown: string };

export interface JournaledEffectOptions<R> {
  rt: RuntimeHandle;
  name: EffectName;
  /** Does the outside work; throws NonRetriableError for a final failure, EffectAbandonedError when it changed nothing. */
  run(input: EffectInput, signal: AbortSignal): Promise<R>;
  /** Asks the outside system whether a started effect happened. */
  reconcile(record: EffectRecord, input: EffectInput): Promise<Reconciled<R>>;
  /** Running it twice does no harm, so an unknown outcome is retried instead of put to a human. */
  idempotent: boolean;
}

type Outcome =
  | { kind: 'done'; result: unknown }
  | { kind: 'failed'; error: string; retriable: boolean }
  /** Not knowable: a human decides (the task opens an effect_unknown decision). */
  | { kind: 'unknown'; reason: string }
  | { kind: 'abandoned' };

interface Waiter {
  stopped: boolean;
}

/** One settling of a key in this boot, shared by every invocation of that key while it lasts. */
interface Flight {
  promise: Promise<Outcome>;
  waiters: Set<Waiter>;
  controller: AbortController;
}

/**
 * Wraps an outside effect in the journal (SPEC R15, R16): the call happens only after the transition
 * that invoked it is durable, at most once per idempotency key, with its outcome recorded before the
 * task hears of it. A completed or failed key reports its recorded outcome without calling out; one
 * left `started` by a crash is reconciled with the outside world.
 */
export function journaledEffect<R>(o: JournaledEffectOptions<R>) {
  const { rt } = o;
  const flights = new Map<string, Flight>();

  const outcomeOf = (record: EffectRecord | undefined): Outcome => {
    switch (record?.status) {
      case 'completed':
        return { kind: 'done', result: record.result };
      case 'failed':
        return { kind: 'failed', error: record.error, retriable: record.retriable };
      case 'abandoned':
      case 'started':
      case undefined:
        // The run gave up before calling out (or its record is gone): nothing to report, a later invocation runs it.
        return { kind: 'abandoned' };
      default: {
        const never: never = record;
        throw new Error(`effects: unknown journal record ${JSON.stringify(never)}`);
      }
    }
  };

  /** Records how the run ended, unless an operator released the key meanwhile: then the release stands. */
  const finish = (input: EffectInput, next: EffectRecord) =>
    updateEffect(rt, input.key, (current) => {
      if (current?.status === 'failed' && current.releasedBy !== undefined) {
        const late = next.status === 'completed' ? { result: next.result } : next.status === 'failed' ? { error: next.error } : {};
        return next.status === 'abandoned' ? undefined : { ...current, late: { at: rt.clock.now(), ...late } };
      }
      return current?.status === 'started' ? next : undefined;
    });

  const execute = async (input: EffectInput, signal: AbortSignal, reconciled?: Reconciliation): Promise<Outcome> => {
    if (signal.aborted) return { kind: 'abandoned' };
    const base = { key: input.key, taskId: input.taskId, effect: input.effect, bootId: rt.bootId, startedAt: rt.clock.now(), ...(reconciled ? { reconciled } : {}) };
    const started = await updateEffect(rt, input.key, (current) =>
      current?.status === 'completed' || current?.status === 'failed' ? undefined : { ...base, status: 'started' },
    );
    if (started?.status !== 'started') return outcomeOf(started);
    let next: EffectRecord;
    try {
      const result = await o.run(input, signal);
      next = { ...base, status: 'completed', result: result ?? null, finishedAt: rt.clock.now() };
    } catch (e) {
      // Abandoning is honoured only when nobody waits; otherwise it would be retried forever.
      next = e instanceof EffectAbandonedError && signal.aborted
        ? { ...base, status: 'abandoned', finishedAt: rt.clock.now() }
        : { ...base, status: 'failed', ...classifyError(e), finishedAt: rt.clock.now() };
    }
    return outcomeOf(await finish(input, next));
  };

  const reconcile = async (record: EffectRecord, input: EffectInput, signal: AbortSignal): Promise<Outcome> => {
    let answer: Reconciled<R>;
    try {
      answer = await o.reconcile(record, input);
    } catch (e) {
      answer = { unknown: classifyError(e).error };
    }
    const at = rt.clock.now();
    if ('done' in answer) {
      const reconciled: Reconciliation = { at, bootId: rt.bootId, outcome: 'done' };
      return outcomeOf(await finish(input, { ...record, status: 'completed', result: answer.done ?? null, finishedAt: at, reconciled }));
    }
    if ('notDone' in answer) return execute(input, signal, { at, bootId: rt.bootId, outcome: 'not_done' });
    if (o.idempotent) return execute(input, signal, { at, bootId: rt.bootId, outcome: 'unknown', reason: answer.unknown });
    const reason = `effect ${input.key} in unknown state: ${answer.unknown}`;
    await updateEffect(rt, input.key, (current) =>
      current?.status === 'started' ? { ...current, reconciled: { at, bootId: rt.bootId, outcome: 'unknown', reason: answer.unknown } } : undefined,
    );
    await rt.write([{ kind: 'put', collection: 'alerts', id: `effect-unknown:${input.key}`, value: { kind: 'effect_unknown', at, taskId: input.taskId, effect: input.effect, key: input.key, reason } }]);
    return { kind: 'unknown', reason: answer.unknown };
  };

  const decide = async (input: EffectInput, signal: AbortSignal): Promise<Outcome> => {
    const record = await readEffect(rt, input.key);
    // A `started` record with no flight in this process was left by a crash (or an earlier boot): ask.
    if (record?.status === 'started') return reconcile(record, input, signal);
    if (record?.status === 'completed' || record?.status === 'failed') return outcomeOf(record);
    return execute(input, signal);
  };

  const join = (input: EffectInput, waiter: Waiter): Promise<Outcome> => {
    let flight = flights.get(input.key);
    if (!flight) {
      const controller = new AbortController();
      const created: Flight = { waiters: new Set(), controller, promise: Promise.resolve({ kind: 'abandoned' }) };
      created.promise = decide(input, controller.signal).finally(() => {
        if (flights.get(input.key) === created) flights.delete(input.key);
      });
      flights.set(input.key, created);
      flight = created;
    }
    flight.waiters.add(waiter);
    return flight.promise;
  };

  const leave = (key: string, waiter: Waiter) => {
    const flight = flights.get(key);
    if (!flight?.waiters.delete(waiter)) return;
    // The call goes on once it has reached the outside world; before that, nobody waiting means do not start.
    if (flight.waiters.size === 0) flight.controller.abort();
  };

  const report = (input: EffectInput, outcome: Exclude<Outcome, { kind: 'abandoned' }>) => {
    const source = { source: 'effect' as const };
    switch (outcome.kind) {
      case 'done':
        return rt.send(input.taskId, { type: 'effect.done', effect: input.effect, result: outcome.result }, source);
      case 'failed':
        return rt.send(input.taskId, { type: 'effect.failed', effect: input.effect, error: outcome.error, retriable: outcome.retriable }, source);
      case 'unknown':
        return rt.send(input.taskId, { type: 'effect.unknown', effect: input.effect, key: input.key, reason: outcome.reason }, source);
      default: {
        const never: never = outcome;
        throw new Error(`effects: unknown outcome ${JSON.stringify(never)}`);
      }
    }
  };

  return fromCallback<EventObject, EffectInput>(({ input }) => {
    const waiter: Waiter = { stopped: false };
    void (async () => {
      // Commit before the world changes: a transition that never became durable runs no effect (SPEC R17).
      await rt.committed(input.taskId);
      for (;;) {
        if (waiter.stopped) return;
        // A journal write that fails fails the effect visibly; the task retries it with backoff under a new key.
        const outcome: Outcome = await join(input, waiter).catch((e: unknown) => ({ kind: 'failed', error: `effect journal: ${(e as Error).message}`, retriable: true }));
        // The task left the effect's state (hold, cancel, shutdown): the outcome is journaled, nobody to tell.
        if (waiter.stopped) return;
        if (outcome.kind !== 'abandoned') {
          await report(input, outcome);
          return;
        }
      }
    })().catch(() => undefined);
    return () => {
      waiter.stopped = true;
      leave(input.key, waiter);
    };
  });
}
