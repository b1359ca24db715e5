import { timingSafeEqual } from 'node:crypto';
import { createMiddleware } from 'hono/factory';
import { HttpError } from './http-error.ts';

/** Constant-time string equality that does not leak the length through an early return. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

/** Bearer-token guard for /api. */
export function bearerAuth(token: string) {
  return createMiddleware(async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    if (!given || !safeEqual(given, token)) throw new HttpError('unauthorized', 'a valid bearer token is required');
    await next();
  });
}
