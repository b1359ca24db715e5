import { describe, expect, it } from 'vitest';
import { getInitialSnapshot } from 'xstate';
import { compileTaskMachine, defaultPipeline } from '../../machines/index.ts';

describe('a new task', () => {
  it('has its first preparation bounded from its creation, a deadline that survives the store as a number', () => {
    const createdAt = 1_700_000_000_000;
    const snapshot = getInitialSnapshot(compileTaskMachine(), {
      id: 'T-1', repo: 'acme/web', branch: 'conveyor/T-1', createdAt,
      limits: { maxRetries: 2, maxJobAttempts: 2, jobTimeoutMs: 60_000, baseBackoffMs: 1_000, gateTimeoutMs: 60_000, prepareTimeoutMs: 5_000 },
    });
    expect(JSON.stringify(snapshot.value)).toContain('"analysis":"preparing"');
    // The store keeps JSON: a deadline computed from a missing time would come back as null, a preparation never bounded.
    const stored = JSON.parse(JSON.stringify(snapshot.context)) as { deadline: unknown };
    expect(stored.deadline).toBe(createdAt + 5_000);
    expect(defaultPipeline.prepareTimeoutMs).toBeGreaterThan(0);
  });
});
