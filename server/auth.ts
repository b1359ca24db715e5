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

const reportPath = /^\/api\/jobs\/([^/]+)\/report$/;

/**
 * Bearer-token guard for /api: the operator's token everywhere; on an agent's report route, also the
 * token of that very job while it runs.
 */
export function bearerAuth(token: string, jobToken?: (jobId: string, token: string) => boolean) {
  return createMiddleware(async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    const given = header.startsWith('Bearer ') ? header.slice('Bearer '.length) : '';
    const jobId = c.req.method === 'POST' ? reportPath.exec(c.req.path)?.[1] : undefined;
    const ok = given !== '' && (safeEqual(given, token) || (jobId !== undefined && jobToken?.(jobId, given) === true));
    if (!ok) throw new HttpError('unauthorized', 'a valid bearer token is required');
    await next();
  });
}
