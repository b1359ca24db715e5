// conveyor demo agent: the reviewer. Asks for changes once when the task's title says "needs changes"
// and the worktree has no FIXES.md yet; otherwise approves. Reports its verdict to conveyor's API.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { report } from './report.mjs';

const env = process.env;


try {
  const title = env.CONVEYOR_TITLE ?? '';
  // The verdict is about the commit reviewed; conveyor refuses it if that is not the head it knows.
  const sha = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  console.log(`reviewer: reviewing ${sha.slice(0, 7)} of ${env.CONVEYOR_TASK_ID} "${title}"`);
  await sleep(400 + Math.floor(Math.random() * 400));
  if (title.toLowerCase().includes('needs changes') && !existsSync('FIXES.md')) {
    await report('reviewer', { kind: 'review.verdict', verdict: 'changes_requested', sha, comments: 'Discounts are rounded on the total, not per line; please round each line and add a test for it.' });
  } else {
    await report('reviewer', { kind: 'review.verdict', verdict: 'approved', sha, comments: existsSync('FIXES.md') ? 'Thanks, FIXES.md covers what I asked.' : 'Looks good to me.' });
  }
} catch (e) {
  console.error(`reviewer: ${e.message}`);
  process.exit(1);
}
