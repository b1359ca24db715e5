import type { Context } from 'hono';
import type { SendOutcome } from '../../actors/index.ts';
import { HttpError } from '../http-error.ts';
import type { ParseFailure } from './facts.ts';

/** The 4xx a parse failure answers with. */
export function parseError(failure: ParseFailure): HttpError {
  return new HttpError(failure.code, failure.message, failure.field);
}

/** Every outcome of a delivery that was durably recorded is acknowledged; the body says what happened. */
export function acknowledge(c: Context, outcome: SendOutcome | { status: 'unrouted'; reason: string } | { status: 'noop'; reason: string }) {
  return c.json({ outcome }, outcome.status === 'unrouted' ? 202 : 200);
}

/** Lower-cased request headers, for the signature and delivery-id helpers. */
export function headersOf(c: Context): Record<string, string> {
  const out: Record<string, string> = {};
  c.req.raw.headers.forEach((value, key) => {
    out[key.toLowerCase()] = value;
  });
  return out;
}
