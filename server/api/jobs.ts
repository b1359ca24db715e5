import { Hono } from 'hono';
import { z } from 'zod';
import { jobStatuses, readLogTail, type Conveyor, type TaskEventInput } from '../../actors/index.ts';
import { HttpError } from '../http-error.ts';
import { jsonBody } from '../json-body.ts';
import { oneOf, pagedJson } from './page.ts';

const sha = z.string().regex(/^[0-9a-f]{7,64}$/, 'must be a hex commit sha');

/** What an agent reports: its structured result, never inferred from its exit code (SPEC R13). */
export const report = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('review.verdict'), verdict: z.enum(['approved', 'changes_requested']), comments: z.string().max(20_000).optional(), sha: sha.optional() }),
  z.strictObject({ kind: z.literal('test.result'), passed: z.boolean(), summary: z.string().max(20_000).optional(), sha: sha.optional() }),
  z.strictObject({ kind: z.literal('deploy.status'), environment: z.enum(['staging', 'production']), state: z.enum(['success', 'failure']), url: z.string().max(2000).optional() }),
]);

function toEvent(r: z.infer<typeof report>, head: string | undefined): TaskEventInput {
  const headSha = (given?: string) => {
    const s = given ?? head;
    if (!s) throw new HttpError('conflict', 'the task has no head sha yet; report the sha you worked on', 'sha');
    return s;
  };
  switch (r.kind) {
    case 'review.verdict':
      return { type: 'review.verdict', sha: headSha(r.sha), verdict: r.verdict, comments: r.comments };
    case 'test.result':
      return { type: 'test.result', sha: headSha(r.sha), passed: r.passed, summary: r.summary };
    case 'deploy.status':
      return { type: 'deploy.status', environment: r.environment, state: r.state, url: r.url };
    default: {
      const never: never = r;
      throw new Error(`server: unknown report ${JSON.stringify(never)}`);
    }
  }
}

/** /api/jobs: job records and logs for operators; result reports for agents (with their job token). */
export function jobsApi(conveyor: Conveyor) {
  const app = new Hono();
  const mustExist = (id: string) => {
    const job = conveyor.job(id);
    if (!job) throw new HttpError('not_found', `job ${id} does not exist`, 'id');
    return job;
  };

  app.get('/', (c) => {
    const jobs = conveyor.jobs({ taskId: c.req.query('task'), stage: c.req.query('stage'), status: oneOf(c, 'status', jobStatuses) });
    return pagedJson(c, 'jobs', jobs, (j) => [j.requestedAt, j.id], 'desc');
  });

  app.get('/:id', (c) => c.json({ job: mustExist(c.req.param('id')) }));

  app.get('/:id/log', async (c) => {
    const job = mustExist(c.req.param('id'));
    const tail = await readLogTail(job.logPath, 1024 * 1024);
    if (tail.kind === 'missing') throw new HttpError('not_found', `job ${job.id} has no log yet`, 'id');
    if (tail.kind === 'error') throw new HttpError('unavailable', `job ${job.id}: log unreadable: ${tail.message}`);
    return c.text(tail.text);
  });

  app.get('/:id/activity', async (c) => {
    const job = mustExist(c.req.param('id'));
    // A job of a plain command, or one that has not started, has no activity log: an empty list.
    const records = await conveyor.jobActivity(job).catch((e: Error) => {
      throw new HttpError('unavailable', `job ${job.id}: activity unreadable: ${e.message}`);
    });
    return pagedJson(c, 'activity', records, (r) => [r.seq], 'asc');
  });

  app.post('/:id/report', async (c) => {
    const job = mustExist(c.req.param('id'));
    const body = await jsonBody(c, report);
    const head = conveyor.task(job.taskId)?.context.head?.sha;
    const outcome = await conveyor.send(job.taskId, toEvent(body, head), { source: 'job' });
    if (outcome.status === 'ignored') throw new HttpError('conflict', outcome.reason, 'kind', { outcome });
    return c.json({ outcome });
  });
  return app;
}
