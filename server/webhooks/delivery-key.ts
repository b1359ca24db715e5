import { hash } from 'node:crypto';
import type { TrackerFact } from './facts.ts';
import { headerValue, type ForgeScheme, type RawBody } from './signatures.ts';

/** SHA-256 of a body's bytes, hex: what a signature covers, so what a replay cannot change. */
export function bodyHash(rawBody: RawBody): string {
  return hash('sha256', rawBody, 'hex');
}

/**
 * The dedupe key of an authenticated forge delivery, on what its sender signed (SPEC R38): Standard
 * Webhooks signs its `webhook-id`, which is the key; Gitea and GitHub sign only the body, and their
 * delivery-id header is not signed, so the key is the body's hash (a redelivery repeats both; a new
 * header on an old body is still the old delivery).
 */
export function forgeDeliveryKey(scheme: ForgeScheme, headers: Record<string, string | undefined>, rawBody: RawBody): string {
  if (scheme === 'standard') return `forge:webhook-id:${headerValue(headers, 'webhook-id')?.trim() ?? ''}`;
  return `forge:body:${bodyHash(rawBody)}`;
}

/** The sender's own delivery id, unsigned, kept for people reading alerts and logs. */
export function forgeDeliveryId(headers: Record<string, string | undefined>): string | undefined {
  for (const name of ['x-gitea-delivery', 'x-github-delivery', 'webhook-id']) {
    const id = headerValue(headers, name)?.trim();
    if (id !== undefined && id !== '') return id;
  }
  return undefined;
}

/** The dedupe key of a tracker fact: equal for retries of one change, different for a later change to the same state. */
export function trackerDeliveryKey(fact: TrackerFact): string | undefined {
  if (fact.kind === 'noop') return undefined;
  // A comment is itself the change: its id names it across Plane's retries.
  if (fact.kind === 'issue.comment') return `tracker:${fact.issueId}:comment:${fact.commentId}`;
  // Plane makes a new delivery id per retry, so the key is the issue, its state and its update time instead.
  const base = `tracker:${fact.issueId}:state:${fact.stateId}`;
  return fact.updatedAt === undefined ? base : `${base}:${fact.updatedAt}`;
}
