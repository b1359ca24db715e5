import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { RandomBytes } from '../world.ts';

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

/** Per-job API tokens: minted at start, valid only for that job and only while it runs. */
export class JobTokens {
  private readonly live = new Map<string, string>();

  constructor(private readonly random: RandomBytes = (n) => randomBytes(n)) {}

  mint(jobId: string): { token: string; hash: string } {
    const token = `cvj_${this.random(24).toString('hex')}`;
    const hash = hashToken(token);
    this.live.set(jobId, hash);
    return { token, hash };
  }

  /** A job re-attached after a restart keeps the token it was started with. */
  adopt(jobId: string, hash: string): void {
    this.live.set(jobId, hash);
  }

  revoke(jobId: string): void {
    this.live.delete(jobId);
  }

  verify(jobId: string, token: string): boolean {
    const expected = this.live.get(jobId);
    if (!expected) return false;
    const given = Buffer.from(hashToken(token), 'hex');
    return timingSafeEqual(given, Buffer.from(expected, 'hex'));
  }
}
