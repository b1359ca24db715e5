import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { bearerAuth } from '../auth.ts';
import type { LiveEvents } from './live-events.ts';
import { TICKET_TTL_MS, type StreamTickets } from './stream-tickets.ts';

/** The cookie that carries a stream ticket; sent only to /api/events. */
export const TICKET_COOKIE = 'conveyor_stream';

/**
 * /api/events: `GET /stream` (Server-Sent Events of committed transitions, decisions, alerts, jobs and
 * effects), opened with the bearer token or with a ticket cookie from `POST /ticket`.
 */
export function eventsApi(opts: { apiToken: string; live: LiveEvents; tickets: StreamTickets }) {
  const { live, tickets } = opts;
  const app = new Hono();
  const bearer = bearerAuth(opts.apiToken);
  const bearerOrTicket = createMiddleware(async (c, next) => {
    const ticket = getCookie(c, TICKET_COOKIE);
    if (ticket && tickets.valid(ticket)) return next();
    return bearer(c, next);
  });

  app.post('/ticket', bearer, (c) => {
    const { ticket, expiresAt } = tickets.issue();
    setCookie(c, TICKET_COOKIE, ticket, {
      path: '/api/events',
      httpOnly: true,
      sameSite: 'Strict',
      secure: new URL(c.req.url).protocol === 'https:',
      maxAge: TICKET_TTL_MS / 1000,
    });
    return c.json({ expiresAt: new Date(expiresAt).toISOString() });
  });

  app.delete('/ticket', bearer, (c) => {
    const ticket = getCookie(c, TICKET_COOKIE);
    if (ticket) tickets.revoke(ticket);
    deleteCookie(c, TICKET_COOKIE, { path: '/api/events' });
    return c.json({ revoked: ticket !== undefined });
  });

  app.get('/stream', bearerOrTicket, (c) => {
    return c.body(live.open(), 200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // Proxies such as nginx would otherwise hold messages back.
      'x-accel-buffering': 'no',
    });
  });
  return app;
}
