export { eventsApi, TICKET_COOKIE } from './events-api.ts';
export { LiveEvents } from './live-events.ts';
export { StreamTickets, TICKET_TTL_MS } from './stream-tickets.ts';
export type { LiveMessage, TransitionMessage } from './live-messages.ts';
