import { createHash, randomBytes } from 'node:crypto';

/** How long a stream ticket lets a browser (re)open the event stream. */
export const TICKET_TTL_MS = 10 * 60_000;

/** Tickets kept at most; the oldest go first, so a client that asks in a loop cannot grow memory. */
const MAX_TICKETS = 1000;

/**
 * Short-lived tickets for the event stream. A browser's EventSource cannot send the bearer token, and
 * the token must never travel in a URL (it would land in access logs), so an authenticated POST trades
 * the token for a ticket that travels in an HttpOnly cookie scoped to the stream's path.
 */
export class StreamTickets {
  readonly #expiry = new Map<string, number>();

  constructor(private readonly now: () => number, private readonly ttlMs = TICKET_TTL_MS) {}

  issue(): { ticket: string; expiresAt: number } {
    this.prune();
    const ticket = randomBytes(24).toString('base64url');
    const expiresAt = this.now() + this.ttlMs;
    this.#expiry.set(digest(ticket), expiresAt);
    while (this.#expiry.size > MAX_TICKETS) this.#expiry.delete(this.#expiry.keys().next().value!);
    return { ticket, expiresAt };
  }

  /** Whether the ticket was issued here and has not expired or been revoked. */
  valid(ticket: string): boolean {
    return (this.#expiry.get(digest(ticket)) ?? 0) > this.now();
  }

  revoke(ticket: string): void {
    this.#expiry.delete(digest(ticket));
  }

  private prune(): void {
    const now = this.now();
    for (const [key, expiresAt] of this.#expiry) if (expiresAt <= now) this.#expiry.delete(key);
  }
}

// Kept by digest, so a lookup's timing tells nothing about the tickets held.
const digest = (ticket: string) => createHash('sha256').update(ticket).digest('base64url');
