import { fromCallback } from 'xstate';
import type { ActorName, Implementations } from '../../actors/index.ts';

const names: ActorName[] = ['prepareStage', 'runAgent', 'timer', 'mergePullRequest', 'deployStaging', 'deployProduction'];

/** Invoked actors that do nothing, so a task moves only on the events a test sends it. */
export const quietImplementations: Implementations = () =>
  Object.fromEntries(names.map((name) => [name, fromCallback(() => undefined)]));
