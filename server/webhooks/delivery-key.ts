import type { TrackerFact } from './facts.ts';
import { headerValue } from './signatures.ts';

// One delivery id per forge; Gitea repeats its id in X-GitHub-Delivery, so the first present wins.
const FORGE_DELIVERY_HEADERS = ['x-gitea-delivery', 'x-github-delivery', 'webhook-id'] as const;

/** The dedupe key of a forge delivery, `forge:<delivery id>`, or undefined when the sender named none. */
export function forgeDeliveryKey(headers: Record<string, string | undefined>): string | undefined {
  for (const name of FORGE_DELIVERY_HEADERS) {
    const id = headerValue(headers, name)?.trim();
    if (id !== undefined && id !== '') return `forge:${id}`;
  }
  return undefined;
}

/** The dedupe key of a tracker fact: equal for retries of one change, different for a later change to the same state. */
export function trackerDeliveryKey(fact: TrackerFact): string | undefined {
  if (fact.kind === 'noop') return undefined;
  // Plane makes a new delivery id per retry, so the key is the issue, its state and its update time instead.
  const base = `tracker:${fact.issueId}:state:${fact.stateId}`;
  return fact.updatedAt === undefined ? base : `${base}:${fact.updatedAt}`;
}
