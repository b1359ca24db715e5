// Follows conveyor's event stream. EventSource cannot send the bearer token, so the console first
// trades it for a short-lived ticket that conveyor sets as an HttpOnly cookie for /api/events only.

import { api } from './api.js';

const KINDS = ['transition', 'decision', 'alert', 'job', 'effect', 'activity'];

/**
 * Opens the stream and keeps it open: EventSource reconnects by itself while its ticket is good; once
 * the stream is refused (an expired ticket, a restarted conveyor) a new ticket is fetched, with backoff.
 * `onReady` runs on every (re)connection, since nothing missed meanwhile is replayed.
 */
export function follow({ onReady, onMessage, onState }) {
  let source = null;
  let stopped = false;
  let backoff = 1000;
  let timer = null;

  const again = () => {
    onState('offline');
    timer = setTimeout(open, backoff);
    backoff = Math.min(backoff * 2, 30000);
  };

  async function open() {
    if (stopped) return;
    try {
      await api('/events/ticket', { method: 'POST' });
    } catch {
      if (!stopped) again();
      return;
    }
    if (stopped) return;
    source = new EventSource('/api/events/stream');
    source.addEventListener('ready', (e) => {
      backoff = 1000;
      onState('online');
      onReady(JSON.parse(e.data));
    });
    for (const kind of KINDS) source.addEventListener(kind, (e) => onMessage(kind, JSON.parse(e.data)));
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        again();
      } else {
        onState('reconnecting');
      }
    };
  }

  void open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (source) source.close();
    onState('offline');
    // The ticket goes with the token.
    api('/events/ticket', { method: 'DELETE' }).catch(() => {});
  };
}
