import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

/** Node's own request under @hono/node-server (`c.env.incoming`); undefined under `app.request()` and the simulator. */
export function incomingOf(c: Context): IncomingMessage | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming !== undefined && typeof incoming.on === 'function' ? incoming : undefined;
}

const joined = (value: string | string[] | undefined) => (Array.isArray(value) ? value.join(', ') : value);

/**
 * A request header, read from the head node has already parsed when there is one: asking Hono for a header
 * builds a web Headers of every header the request carries (about 2% of a webhook's cost, with its validation).
 */
export function requestHeader(c: Context, name: string): string | undefined {
  const incoming = incomingOf(c);
  return incoming === undefined ? c.req.header(name) : joined(incoming.headers[name.toLowerCase()]);
}

/** Every request header by lowercase name, repeated ones joined with ", " (as a web Headers joins them). */
export function requestHeaders(c: Context): Record<string, string> {
  const out: Record<string, string> = {};
  const incoming = incomingOf(c);
  if (incoming === undefined) {
    c.req.raw.headers.forEach((value, key) => (out[key.toLowerCase()] = value));
    return out;
  }
  // rawHeaders, not headers: node keeps only the first of some repeated headers there, a web Headers joins them all.
  const raw = incoming.rawHeaders;
  for (let i = 0; i < raw.length; i += 2) {
    const key = raw[i]!.toLowerCase();
    out[key] = key in out ? `${out[key]}, ${raw[i + 1]!}` : raw[i + 1]!;
  }
  return out;
}
