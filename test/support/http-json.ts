import type { IncomingMessage, ServerResponse } from 'node:http';

/** Answers a test double's request with JSON (an empty body for null). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = body === null ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The whole request body as text. */
export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (data += chunk));
    req.on('end', () => resolve(data));
    req.on('error', reject);
  });
}

/** Answers queued for the next requests a double receives: a rate limit (429 with Retry-After) or any status. */
export class InjectedAnswers {
  readonly #queue: { status: number; headers: Record<string, string>; body: unknown }[] = [];

  /** The next `count` requests answer 429 with this Retry-After (seconds or an HTTP date; none when null). */
  rateLimit(count: number, retryAfter: string | null): void {
    for (let i = 0; i < count; i++) this.#queue.push({ status: 429, headers: retryAfter === null ? {} : { 'retry-after': retryAfter }, body: { message: 'API rate limit exceeded' } });
  }

  /** Sends the next queued answer, if any; true when it did. */
  answer(res: ServerResponse): boolean {
    const next = this.#queue.shift();
    if (!next) return false;
    const text = JSON.stringify(next.body);
    res.writeHead(next.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...next.headers });
    res.end(text);
    return true;
  }
}
