import type { Context } from 'hono';

/** The closed set of error codes conveyor answers with. */
export type ErrorCode =
  | 'unauthorized'
  | 'bad_json'
  | 'invalid_payload'
  | 'unknown_event'
  | 'not_found'
  | 'payload_too_large'
  | 'conflict'
  | 'not_allowed'
  | 'unavailable'
  | 'internal';

const statusOf: Record<ErrorCode, 400 | 401 | 404 | 409 | 413 | 422 | 500 | 503> = {
  unauthorized: 401,
  bad_json: 400,
  invalid_payload: 422,
  unknown_event: 422,
  not_found: 404,
  payload_too_large: 413,
  conflict: 409,
  not_allowed: 422,
  unavailable: 503,
  internal: 500,
};

/** The one HTTP error type; its body is always `{ error: { code, message, field? } }`. */
export class HttpError extends Error {
  constructor(readonly code: ErrorCode, message: string, readonly field?: string, readonly extra?: Record<string, unknown>) {
    super(message);
    this.name = 'HttpError';
  }

  get status() {
    return statusOf[this.code];
  }
}

export function errorResponse(c: Context, err: HttpError) {
  const body = { error: { code: err.code, message: err.message, ...(err.field ? { field: err.field } : {}) }, ...err.extra };
  return c.json(body, err.status);
}
