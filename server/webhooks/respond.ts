import type { Context } from 'hono';
import type { SendOutcome } from '../../actors/index.ts';
import { HttpError } from '../http-error.ts';
import type { ParseFailure } from './facts.ts';

/** The 4xx a parse failure answers with. */
export function parseError(failure: ParseFailure): HttpError {
  return new HttpError(failure.code, failure.message, failure.field);
}

// The outcome each answered delivery named, so the metrics read it without parsing the answer again.
const outcomes = new WeakMap<Request, string>();

/** Every outcome of a delivery that was durably recorded is acknowledged; the body says what happened. */
export function acknowledge(c: Context, outcome: SendOutcome | { status: 'unrouted'; reason: string } | { status: 'noop'; reason: string }) {
  return answerOutcome(c, { outcome }, outcome.status === 'unrouted' ? 202 : 200);
}

/** Answers a delivery with `{ outcome }`, noting its status for outcomeOf. */
export function answerOutcome(c: Context, body: { outcome: { status: string; [detail: string]: unknown } }, status: 200 | 201 | 202) {
  outcomes.set(c.req.raw, body.outcome.status);
  return c.json(body, status);
}

/** The outcome status a delivery was answered with through answerOutcome, if it was. */
export function outcomeOf(c: Context): string | undefined {
  return outcomes.get(c.req.raw);
}
