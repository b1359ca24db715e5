import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandExecutor, type JobRecord } from '../../actors/index.ts';
import { REPO_NAME, json } from '../decisions/git-app.ts';
import { isolateGitConfig } from '../git/fixtures.ts';
import { conveyorCli, serveGitApp, type ServedApp } from './harness.ts';

let restoreEnv: () => void;
let t: ServedApp;
beforeAll(async () => {
  restoreEnv = isolateGitConfig();
  // The analyst writes a line, waits for a go-ahead file in its work dir, then writes another and exits.
  const command = 'echo "first line"; while [ ! -e go ]; do sleep 0.1; done; echo "second line"';
  t = await serveGitApp({ agents: { analyst: { executor: new CommandExecutor({ command }) } } });
}, 60_000);
afterAll(async () => {
  await t.close();
  restoreEnv();
});

async function runningJob(): Promise<JobRecord> {
  const { task } = await json<{ task: { id: string } }>(await t.api('POST', '/tasks', { repo: REPO_NAME, title: 'Add search' }));
  for (;;) {
    const job = t.conveyor.jobsOf(task.id)[0];
    if (job?.status === 'running') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('conveyor logs', { timeout: 180_000 }, () => {
  it('follows a running job\'s log until the job ends, then prints the whole log without --follow', async () => {
    const job = await runningJob();
    let released = false;
    const followed = await conveyorCli(['logs', job.id, '--follow'], t.env, {
      timeoutMs: 60_000,
      onStdout: (text) => {
        // Only once the follower has printed the first line does the agent go on.
        if (!released && text.includes('first line')) {
          released = true;
          void writeFile(join(t.worktreeOf(job.taskId), 'go'), '');
        }
      },
    });
    expect(followed.code).toBe(0);
    expect(followed.stdout).toMatch(/first line\n(.|\n)*second line\n/);
    expect(followed.stdout.match(/first line/g)).toHaveLength(1);

    const whole = await conveyorCli(['logs', job.id], t.env);
    expect(whole.code).toBe(0);
    expect(whole.stdout).toContain('first line\nsecond line\n');
    const missing = await conveyorCli(['logs', 'job-nope'], t.env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('404');
  });
});
