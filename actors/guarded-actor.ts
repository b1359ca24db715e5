import { createActor, fromCallback, type AnyActor, type AnyActorLogic, type AnyActorRef, type EventObject } from 'xstate';
import type { ActorName, Implementations } from './types.ts';

/** What the wrapper needs of the runtime that runs the task. */
export interface GuardHost {
  /** Resolves once the task's latest transition is durable; rejects if that commit failed. */
  committed(taskId: string): Promise<void>;
  /** Reports an implementation's throw or rejection to the task as the invoke's failure event. */
  failed(taskId: string, invocation: AnyActorRef, error: unknown): void;
  /** Registers what detaches a live invocation when the task's actor is dropped; returns the unregistration. */
  track(taskId: string, detach: () => void): () => void;
}

/**
 * Wraps one implementation the runtime provides (ARCHITECTURE invariants 3 and 8). The implementation
 * starts only once the transition that invoked it is durable, so none has to remember to wait; a throw
 * in its body, a rejection, or a throw while it is being stopped becomes the invoke's failure event,
 * which the chart routes with `onError`; it never puts the task's actor in error.
 */
export function guardedActor(host: GuardHost, logic: AnyActorLogic) {
  return fromCallback<EventObject, { taskId: string }>(({ input, self }) => {
    let over = false;
    let inner: AnyActor | null = null;
    const fail = (error: unknown) => {
      if (over) return;
      over = true;
      host.failed(input.taskId, self, error);
    };
    const stopInner = () => {
      const actor = inner;
      inner = null;
      try {
        actor?.stop();
      } catch {
        // A stop that throws has nothing left to report to: the task has already left the state.
      }
    };
    const untrack = host.track(input.taskId, () => {
      over = true;
      stopInner();
    });
    host.committed(input.taskId).then(
      () => {
        if (over) return;
        try {
          const actor = createActor(logic, { input });
          inner = actor;
          actor.subscribe({ error: fail });
          actor.start();
        } catch (e) {
          fail(e);
        }
      },
      // The transition that invoked it never became durable: the runtime drops that actor, nothing starts.
      () => undefined,
    );
    return () => {
      over = true;
      untrack();
      stopInner();
    };
  });
}

/** Every implementation wrapped once, in one place. */
export function guardImplementations(host: GuardHost, impls: ReturnType<Implementations>): Partial<Record<ActorName, AnyActorLogic>> {
  const out: Partial<Record<ActorName, AnyActorLogic>> = {};
  for (const [name, logic] of Object.entries(impls) as [ActorName, AnyActorLogic | undefined][]) {
    if (logic) out[name] = guardedActor(host, logic);
  }
  return out;
}
