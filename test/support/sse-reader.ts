/** One Server-Sent Events message as a browser's EventSource would see it. */
export interface SseMessage {
  event: string;
  id?: string;
  data: unknown;
}

/** Reads an event stream's body message by message, the way EventSource parses it. */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = '';
  #done = false;
  /** Every message read so far, in order. */
  readonly seen: SseMessage[] = [];

  constructor(body: ReadableStream<Uint8Array> | null) {
    if (!body) throw new Error('sse: the response has no body');
    this.#reader = body.getReader();
  }

  /** The next message, or null once the stream has ended. */
  async next(timeoutMs = 5000): Promise<SseMessage | null> {
    for (;;) {
      const cut = this.#buffer.indexOf('\n\n');
      if (cut >= 0) {
        const block = this.#buffer.slice(0, cut);
        this.#buffer = this.#buffer.slice(cut + 2);
        const message = parse(block);
        if (!message) continue;
        this.seen.push(message);
        return message;
      }
      if (this.#done) return null;
      const chunk = await withTimeout(this.#reader.read(), timeoutMs, `sse: no message within ${timeoutMs} ms`);
      if (chunk.done) this.#done = true;
      else this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
    }
  }

  /** Reads until a message satisfies `test`; fails if the stream ends or nothing matches in time. */
  async until(what: string, test: (m: SseMessage) => boolean, timeoutMs = 5000): Promise<SseMessage> {
    const deadline = Date.now() + timeoutMs;
    const fail = (why: string) => new Error(`sse: ${why} ${what}; seen: ${this.seen.map((m) => `${m.event} ${JSON.stringify(m.data).slice(0, 120)}`).join(' | ')}`);
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw fail(`no message within ${timeoutMs} ms`);
      const m = await this.next(left).catch(() => null);
      if (!m) throw fail(Date.now() >= deadline ? `no message within ${timeoutMs} ms` : 'the stream ended before a message');
      if (test(m)) return m;
    }
  }

  /** Whether the server ended the stream (reads and drops what is left). */
  async ended(timeoutMs = 5000): Promise<boolean> {
    while ((await this.next(timeoutMs)) !== null);
    return true;
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

function parse(block: string): SseMessage | null {
  let event = 'message';
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'id') id = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0) return null;
  return { event, id, data: JSON.parse(data.join('\n')) as unknown };
}

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
