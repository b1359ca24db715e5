import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createMiddleware } from 'hono/factory';
import type { Logger } from 'pino';
import type { ConveyorMetrics } from '../actors/index.ts';
import { requestHeader } from './node-request.ts';

/** What the request middleware hands the handlers: the request's id, which their log lines carry as `reqId`. */
export type RequestVariables = { requestId: string };

// An id from outside is honoured only if it is short and plain: it goes into every log line of the request.
const ACCEPTABLE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

/**
 * Gives each request an id (an incoming X-Request-Id honoured, every answer echoing it), writes one
 * access-log line when it is answered, and times it by route pattern for the metrics.
 */
export function requestLog(logger: Logger, metrics: ConveyorMetrics, okLevel: 'info' | 'debug' = 'info') {
  // The line's fields are fixed here and none holds a credential by name, so the field-name redaction (two
  // thirds of the line's cost) is left off; a secret's value, in a path say, is still cut by the logger.
  const access = logger.child({}, { redact: [] });
  return createMiddleware<{ Variables: RequestVariables }>(async (c, next) => {
    const given = requestHeader(c, 'x-request-id');
    const requestId = given !== undefined && ACCEPTABLE_ID.test(given) ? given : randomUUID();
    // No child logger per request: making one costs more than the line it would write.
    c.set('requestId', requestId);
    // Set on Node's response, which merges it into the head: set on the answer once made, it makes
    // @hono/node-server build a full web Response for every request instead of writing its cached parts.
    const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
    outgoing?.setHeader('X-Request-Id', requestId);
    const startedAt = performance.now();
    await next();
    if (outgoing === undefined) c.header('X-Request-Id', requestId);
    const ms = performance.now() - startedAt;
    const { method } = c.req;
    const status = c.res.status;
    // The matched pattern, not the path: ids in paths would make one series per task.
    const route = c.req.routePath;
    metrics.request(method, route, status, ms / 1000);
    const level = status >= 500 ? 'error' : status >= 400 ? 'warn' : okLevel;
    if (!access.isLevelEnabled(level)) return;
    access[level]({ reqId: requestId, method, path: c.req.path, route, status, ms: Math.round(ms * 10) / 10 }, `${method} ${c.req.path} ${status} ${ms.toFixed(1)} ms`);
  });
}
