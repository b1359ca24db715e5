import type { Context } from 'hono';
import { HttpError } from '../http-error.ts';
import { incomingOf } from '../node-request.ts';

/** Bodies larger than this are refused with 413 unless the app says otherwise. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const tooLarge = (maxBytes: number) => new HttpError('payload_too_large', `request body is larger than ${maxBytes} bytes`);

/**
 * A request's body as bytes, refused with 413 past `maxBytes`. Under @hono/node-server it is read straight from
 * node's IncomingMessage (`c.env.incoming`), so no web Request and ReadableStream are built for it; elsewhere
 * (`app.request()`, the simulator) through the web Request.
 */
export async function readRawBody(c: Context, maxBytes: number): Promise<Buffer> {
  const incoming = incomingOf(c);
  if (incoming === undefined) {
    const bytes = Buffer.from(await c.req.arrayBuffer());
    if (bytes.length > maxBytes) throw tooLarge(maxBytes);
    return bytes;
  }
  const declared = Number(incoming.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw tooLarge(maxBytes);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      // A chunked body names no length: it is counted as it comes.
      if (size > maxBytes) {
        incoming.off('data', onData);
        reject(tooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    };
    incoming.on('data', onData);
    incoming.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
    incoming.once('error', reject);
  });
}

/** A body's bytes as text, as the web Request's text() reads them: UTF-8, a leading byte order mark dropped. */
export function bodyText(bytes: Buffer): string {
  const bom = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
  return bytes.toString('utf8', bom ? 3 : 0);
}
