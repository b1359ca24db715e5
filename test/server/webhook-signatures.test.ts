import { createHmac } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import {
  signGithub, signHex, signStandardWebhook, verifyForgeRequest, verifyGithubSignature, verifyHexHmac, verifyStandardWebhook,
} from '../../server/webhooks/signatures.ts';

const secret = 'forge-secret';
const body = '{"action":"opened","number":7}';
const tampered = '{"action":"opened","number":8}';
const now = Date.UTC(2025, 0, 15, 12, 0, 0);
const nowSec = Math.floor(now / 1000);

describe('hex HMAC signatures (Gitea, Plane)', () => {
  it('matches the published HMAC-SHA256 test vector', () => {
    expect(signHex('key', 'The quick brown fox jumps over the lazy dog'))
      .toBe('f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8');
  });

  it('accepts a correct signature, with or without the sha256= prefix', () => {
    const sig = signHex(secret, body);
    expect(verifyHexHmac(secret, body, sig)).toBe(true);
    expect(verifyHexHmac(secret, body, `sha256=${sig}`)).toBe(true);
    expect(verifyHexHmac(secret, body, sig.toUpperCase())).toBe(true);
  });

  it('accepts the same signature over the raw bytes of the body', () => {
    expect(verifyHexHmac(secret, new TextEncoder().encode(body), signHex(secret, body))).toBe(true);
  });

  it('refuses a tampered body', () => {
    expect(verifyHexHmac(secret, tampered, signHex(secret, body))).toBe(false);
  });

  it('refuses a signature made with another secret', () => {
    expect(verifyHexHmac(secret, body, signHex('other-secret', body))).toBe(false);
  });

  it('refuses a missing, empty, truncated or non-hex signature without throwing', () => {
    const sig = signHex(secret, body);
    for (const bad of [undefined, '', 'sha256=', sig.slice(0, 63), `${sig}00`, 'z'.repeat(64), 'sha1=' + sig]) {
      expect(verifyHexHmac(secret, body, bad)).toBe(false);
    }
  });

  it('refuses everything when the secret is empty', () => {
    expect(verifyHexHmac('', body, signHex('', body))).toBe(false);
  });
});

describe('GitHub X-Hub-Signature-256', () => {
  it('accepts a correct sha256= header', () => {
    expect(signGithub(secret, body)).toBe(`sha256=${signHex(secret, body)}`);
    expect(verifyGithubSignature(secret, body, signGithub(secret, body))).toBe(true);
  });

  it('refuses a header without the sha256= prefix', () => {
    expect(verifyGithubSignature(secret, body, signHex(secret, body))).toBe(false);
  });

  it('refuses a tampered body, a wrong secret and a missing header', () => {
    expect(verifyGithubSignature(secret, tampered, signGithub(secret, body))).toBe(false);
    expect(verifyGithubSignature(secret, body, signGithub('other-secret', body))).toBe(false);
    expect(verifyGithubSignature(secret, body, undefined)).toBe(false);
  });
});

describe('Standard Webhooks', () => {
  const id = 'msg_2mV0Zp1';
  const headersAt = (tsSec: number, sec = secret, payload = body) =>
    ({ id, timestamp: String(tsSec), signature: signStandardWebhook(sec, id, tsSec, payload) });

  it('matches the reference example of the Standard Webhooks libraries', () => {
    const sig = signStandardWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    expect(sig).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('accepts a correct signature', () => {
    expect(verifyStandardWebhook(secret, body, headersAt(nowSec), now)).toEqual({ ok: true });
  });

  it('signs id.timestamp.body with the UTF-8 bytes of a plain secret', () => {
    const expected = createHmac('sha256', Buffer.from(secret, 'utf8')).update(`${id}.${nowSec}.${body}`).digest('base64');
    expect(signStandardWebhook(secret, id, nowSec, body)).toBe(`v1,${expected}`);
  });

  it('uses the base64-decoded key of a whsec_ secret', () => {
    const key = Buffer.from('conveyor-standard-key-bytes');
    const whsec = `whsec_${key.toString('base64')}`;
    const expected = createHmac('sha256', key).update(`${id}.${nowSec}.${body}`).digest('base64');
    expect(signStandardWebhook(whsec, id, nowSec, body)).toBe(`v1,${expected}`);
    expect(verifyStandardWebhook(whsec, body, headersAt(nowSec, whsec), now)).toEqual({ ok: true });
    // The same text used as a plain secret is a different key.
    const plain = { id, timestamp: String(nowSec), signature: `v1,${createHmac('sha256', whsec).update(`${id}.${nowSec}.${body}`).digest('base64')}` };
    expect(verifyStandardWebhook(whsec, body, plain, now).ok).toBe(false);
  });

  it('refuses a whsec_ secret that is not base64', () => {
    const result = verifyStandardWebhook('whsec_not base64!', body, headersAt(nowSec), now);
    expect(result.ok).toBe(false);
  });

  it('refuses a tampered body and a wrong secret', () => {
    expect(verifyStandardWebhook(secret, tampered, headersAt(nowSec), now)).toEqual({ ok: false, reason: 'no webhook-signature entry matches' });
    expect(verifyStandardWebhook(secret, body, headersAt(nowSec, 'other-secret'), now).ok).toBe(false);
  });

  it('refuses a signature replayed under another message id', () => {
    const h = headersAt(nowSec);
    expect(verifyStandardWebhook(secret, body, { ...h, id: 'msg_other' }, now).ok).toBe(false);
  });

  it('accepts a timestamp 4 minutes old and refuses one 6 minutes old', () => {
    expect(verifyStandardWebhook(secret, body, headersAt(nowSec - 4 * 60), now)).toEqual({ ok: true });
    const old = verifyStandardWebhook(secret, body, headersAt(nowSec - 6 * 60), now);
    expect(old).toEqual({ ok: false, reason: 'webhook-timestamp is more than 5 minutes old' });
  });

  it('refuses a timestamp 6 minutes in the future', () => {
    const result = verifyStandardWebhook(secret, body, headersAt(nowSec + 6 * 60), now);
    expect(result).toEqual({ ok: false, reason: 'webhook-timestamp is more than 5 minutes in the future' });
  });

  it('refuses a timestamp that is not whole seconds', () => {
    for (const timestamp of ['soon', '1.5', '-10', `${now}e3`]) {
      const result = verifyStandardWebhook(secret, body, { ...headersAt(nowSec), timestamp }, now);
      expect(result.ok).toBe(false);
    }
  });

  it('names each missing header', () => {
    const h = headersAt(nowSec);
    expect(verifyStandardWebhook(secret, body, { ...h, id: undefined }, now)).toEqual({ ok: false, reason: 'missing webhook-id' });
    expect(verifyStandardWebhook(secret, body, { ...h, timestamp: undefined }, now)).toEqual({ ok: false, reason: 'missing webhook-timestamp' });
    expect(verifyStandardWebhook(secret, body, { ...h, signature: undefined }, now)).toEqual({ ok: false, reason: 'missing webhook-signature' });
  });

  it('accepts any one valid v1 entry among several and ignores other versions', () => {
    const good = signStandardWebhook(secret, id, nowSec, body);
    const stale = signStandardWebhook('rotated-out', id, nowSec, body);
    const signature = `v1a,${good.slice(3)} ${stale} garbage v1,!!! ${good}`;
    expect(verifyStandardWebhook(secret, body, { id, timestamp: String(nowSec), signature }, now)).toEqual({ ok: true });
  });

  it('refuses when none of several entries matches', () => {
    const signature = `${signStandardWebhook('a', id, nowSec, body)} ${signStandardWebhook('b', id, nowSec, body)}`;
    expect(verifyStandardWebhook(secret, body, { id, timestamp: String(nowSec), signature }, now).ok).toBe(false);
  });

  it('refuses a correct signature under a version other than v1', () => {
    const signature = `v2,${signStandardWebhook(secret, id, nowSec, body).slice(3)}`;
    expect(verifyStandardWebhook(secret, body, { id, timestamp: String(nowSec), signature }, now).ok).toBe(false);
  });
});

describe('verifyForgeRequest', () => {
  it('verifies a Gitea delivery by X-Gitea-Signature, even when X-Hub-Signature-256 is present too', () => {
    const headers = { 'x-gitea-signature': signHex(secret, body), 'x-hub-signature-256': signGithub(secret, body) };
    expect(verifyForgeRequest(secret, body, headers, now)).toEqual({ ok: true, scheme: 'gitea' });
  });

  it('verifies a GitHub delivery by X-Hub-Signature-256', () => {
    expect(verifyForgeRequest(secret, body, { 'x-hub-signature-256': signGithub(secret, body) }, now)).toEqual({ ok: true, scheme: 'github' });
  });

  it('verifies a Standard Webhooks delivery by webhook-signature', () => {
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(nowSec), 'webhook-signature': signStandardWebhook(secret, 'msg_1', nowSec, body) };
    expect(verifyForgeRequest(secret, body, headers, now)).toEqual({ ok: true, scheme: 'standard' });
  });

  it('passes on the Standard Webhooks reason for a stale timestamp', () => {
    const ts = nowSec - 6 * 60;
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(ts), 'webhook-signature': signStandardWebhook(secret, 'msg_1', ts, body) };
    expect(verifyForgeRequest(secret, body, headers, now)).toEqual({ ok: false, reason: 'webhook-timestamp is more than 5 minutes old' });
  });

  it('refuses a delivery without any signature header', () => {
    expect(verifyForgeRequest(secret, body, { 'x-gitea-delivery': 'abc' }, now)).toEqual({ ok: false, reason: 'missing signature' });
  });

  it('refuses forged signatures under each scheme', () => {
    expect(verifyForgeRequest(secret, tampered, { 'x-gitea-signature': signHex(secret, body) }, now).ok).toBe(false);
    expect(verifyForgeRequest(secret, tampered, { 'x-hub-signature-256': signGithub(secret, body) }, now).ok).toBe(false);
    const headers = { 'webhook-id': 'msg_1', 'webhook-timestamp': String(nowSec), 'webhook-signature': signStandardWebhook(secret, 'msg_1', nowSec, body) };
    expect(verifyForgeRequest(secret, tampered, headers, now).ok).toBe(false);
  });

  it('finds headers whatever their case', () => {
    expect(verifyForgeRequest(secret, body, { 'X-Gitea-Signature': signHex(secret, body) }, now)).toEqual({ ok: true, scheme: 'gitea' });
  });
});
