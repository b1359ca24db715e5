import { createHmac, timingSafeEqual } from 'node:crypto';

/** A webhook body as received: text or the raw bytes. */
export type RawBody = string | Uint8Array;

/** The outcome of checking a signature, with a reason a log line can carry. */
export type VerifyResult = { ok: true } | { ok: false; reason: string };

/** Which signature scheme authenticated a forge delivery. */
export type ForgeScheme = 'gitea' | 'github' | 'standard';

/** Standard Webhooks refuses timestamps further than this from now, in either direction. */
export const STANDARD_WEBHOOK_TOLERANCE_MS = 5 * 60 * 1000;

const HEX_SHA256 = /^[0-9a-f]{64}$/i;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function hmac(key: string | Buffer, ...parts: RawBody[]): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** HMAC-SHA256 of the body as lower-case hex, the form of X-Gitea-Signature and X-Plane-Signature. */
export function signHex(secret: string, body: RawBody): string {
  return hmac(secret, body).toString('hex');
}

/** The X-Hub-Signature-256 value for a body: `sha256=<hex>`. */
export function signGithub(secret: string, body: RawBody): string {
  return `sha256=${signHex(secret, body)}`;
}

/** Checks a hex HMAC-SHA256 signature (an optional `sha256=` prefix allowed) in constant time. */
export function verifyHexHmac(secret: string, rawBody: RawBody, signatureHex: string | undefined): boolean {
  // An unset secret must not turn into "anyone who signs with the empty key is trusted".
  if (secret === '' || signatureHex === undefined) return false;
  const hex = signatureHex.trim().replace(/^sha256=/i, '');
  if (!HEX_SHA256.test(hex)) return false;
  return timingSafeEqual(Buffer.from(hex, 'hex'), hmac(secret, rawBody));
}

/** Checks an X-Hub-Signature-256 header, which must carry the `sha256=` prefix. */
export function verifyGithubSignature(secret: string, rawBody: RawBody, header: string | undefined): boolean {
  if (header === undefined || !/^sha256=/i.test(header.trim())) return false;
  return verifyHexHmac(secret, rawBody, header);
}

/** The key bytes of a Standard Webhooks secret: base64 after a `whsec_` prefix, else the secret's UTF-8 bytes. */
function standardKey(secret: string): Buffer | undefined {
  if (!secret.startsWith('whsec_')) return secret === '' ? undefined : Buffer.from(secret, 'utf8');
  const encoded = secret.slice('whsec_'.length);
  return BASE64.test(encoded) ? Buffer.from(encoded, 'base64') : undefined;
}

function standardDigest(key: Buffer, id: string, timestamp: string, body: RawBody): Buffer {
  return hmac(key, `${id}.${timestamp}.`, body);
}

/** The webhook-signature value (`v1,<base64>`) for a Standard Webhooks delivery. */
export function signStandardWebhook(secret: string, id: string, timestampSec: number, body: RawBody): string {
  const key = standardKey(secret);
  if (key === undefined) throw new Error('signatures: a Standard Webhooks secret must be non-empty, and base64 after whsec_');
  return `v1,${standardDigest(key, id, String(timestampSec), body).toString('base64')}`;
}

/** Checks a Standard Webhooks delivery: signature over `id.timestamp.body`, any of several `v1,` entries, timestamp within five minutes. */
export function verifyStandardWebhook(
  secrets: string | readonly string[],
  rawBody: RawBody,
  headers: { id: string | undefined; timestamp: string | undefined; signature: string | undefined },
  nowMs: number,
  toleranceMs = STANDARD_WEBHOOK_TOLERANCE_MS,
): VerifyResult {
  const keys = (typeof secrets === 'string' ? [secrets] : secrets).map(standardKey).filter((k): k is Buffer => k !== undefined);
  if (keys.length === 0) return { ok: false, reason: 'webhook secret is empty or not base64 after whsec_' };
  const { id, timestamp, signature } = headers;
  if (id === undefined || id.trim() === '') return { ok: false, reason: 'missing webhook-id' };
  if (timestamp === undefined || timestamp.trim() === '') return { ok: false, reason: 'missing webhook-timestamp' };
  if (signature === undefined || signature.trim() === '') return { ok: false, reason: 'missing webhook-signature' };
  const ts = timestamp.trim();
  if (!/^\d{1,15}$/.test(ts)) return { ok: false, reason: `webhook-timestamp '${ts}' is not whole seconds` };
  const skewMs = nowMs - Number(ts) * 1000;
  const window = toleranceMs % 60_000 === 0 ? `${toleranceMs / 60_000} minutes` : `${Math.round(toleranceMs / 1000)} s`;
  // The signed id is the replay key; beyond this window it may have been forgotten, so an older delivery is refused.
  if (skewMs > toleranceMs) return { ok: false, reason: `webhook-timestamp is more than ${window} old` };
  if (-skewMs > toleranceMs) return { ok: false, reason: `webhook-timestamp is more than ${window} in the future` };

  const expected = keys.map((key) => standardDigest(key, id.trim(), ts, rawBody));
  // Senders rotating secrets list several signatures, and conveyor may hold two secrets; any valid pair is enough.
  for (const entry of signature.trim().split(/\s+/)) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue;
    const encoded = entry.slice(comma + 1);
    if (!BASE64.test(encoded)) continue;
    const given = Buffer.from(encoded, 'base64');
    if (expected.some((digest) => given.length === digest.length && timingSafeEqual(given, digest))) return { ok: true };
  }
  return { ok: false, reason: 'no webhook-signature entry matches' };
}

/** A header by its lower-case name, tolerating senders or frameworks that keep the original case. */
export function headerValue(headers: Record<string, string | undefined>, name: string): string | undefined {
  const exact = headers[name];
  if (exact !== undefined) return exact;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

/**
 * Authenticates a forge delivery by whichever signature header it carries (Standard Webhooks, Gitea or
 * GitHub), over the raw bytes, against each of `secrets` (two during a rotation).
 */
export function verifyForgeRequest(
  secrets: string | readonly string[],
  rawBody: RawBody,
  headers: Record<string, string | undefined>,
  nowMs: number,
  toleranceMs = STANDARD_WEBHOOK_TOLERANCE_MS,
): { ok: true; scheme: ForgeScheme } | { ok: false; reason: string } {
  const candidates = typeof secrets === 'string' ? [secrets] : secrets;
  const standard = headerValue(headers, 'webhook-signature');
  if (standard !== undefined) {
    const id = headerValue(headers, 'webhook-id');
    const timestamp = headerValue(headers, 'webhook-timestamp');
    const result = verifyStandardWebhook(candidates, rawBody, { id, timestamp, signature: standard }, nowMs, toleranceMs);
    return result.ok ? { ok: true, scheme: 'standard' } : result;
  }
  // Gitea sends X-Hub-Signature-256 as well, so its own header is what tells the two apart.
  const gitea = headerValue(headers, 'x-gitea-signature');
  if (gitea !== undefined) {
    return candidates.some((secret) => verifyHexHmac(secret, rawBody, gitea)) ? { ok: true, scheme: 'gitea' } : { ok: false, reason: 'x-gitea-signature does not match' };
  }
  const github = headerValue(headers, 'x-hub-signature-256');
  if (github !== undefined) {
    return candidates.some((secret) => verifyGithubSignature(secret, rawBody, github))
      ? { ok: true, scheme: 'github' }
      : { ok: false, reason: 'x-hub-signature-256 does not match' };
  }
  return { ok: false, reason: 'missing signature' };
}
