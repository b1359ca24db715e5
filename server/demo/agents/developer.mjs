// conveyor demo agent: the developer. Writes work/<task>.md in its worktree, commits and pushes the
// task's branch to origin. On a retry it reads why (CONVEYOR_REASON_FILE) and writes FIXES.md about it.
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const env = process.env;
const taskId = env.CONVEYOR_TASK_ID ?? 'unknown';
const branch = env.CONVEYOR_BRANCH;
const title = env.CONVEYOR_TITLE ?? '';

// A fixed identity, so commits work where git has no user configured.
const gitEnv = {
  ...env,
  GIT_AUTHOR_NAME: 'demo developer', GIT_AUTHOR_EMAIL: 'developer@conveyor.invalid',
  GIT_COMMITTER_NAME: 'demo developer', GIT_COMMITTER_EMAIL: 'developer@conveyor.invalid',
  GIT_TERMINAL_PROMPT: '0',
};
const git = (...args) => execFileSync('git', args, { env: gitEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The reason a retry runs: what failed last time, as conveyor handed it over. */
function readReason() {
  if (!env.CONVEYOR_REASON_FILE) return null;
  try {
    return JSON.parse(readFileSync(env.CONVEYOR_REASON_FILE, 'utf8'));
  } catch (e) {
    console.log(`developer: cannot read ${env.CONVEYOR_REASON_FILE}: ${e.message}`);
    return null;
  }
}

try {
  if (!branch) throw new Error('CONVEYOR_BRANCH is not set');
  console.log(`developer: working on ${taskId} "${title}" (attempt ${env.CONVEYOR_ATTEMPT})`);
  await sleep(300 + Math.floor(Math.random() * 300));

  const note = `work/${taskId}.md`;
  mkdirSync('work', { recursive: true });
  if (!existsSync(note)) writeFileSync(note, `# ${title}\n\nTask ${taskId}, branch ${branch}.\n\n`);
  appendFileSync(note, `- ${new Date().toISOString()}: change implemented (attempt ${env.CONVEYOR_ATTEMPT})\n`);

  const reason = readReason();
  let message = `${taskId}: ${title}`;
  if (reason) {
    console.log(`developer: this run follows a failure in ${reason.stage}: ${reason.reason}`);
    writeFileSync('FIXES.md', `# Fixes for ${taskId}\n\nWhat failed (${reason.stage}): ${reason.reason}\n\nAddressed in this commit: the change now handles what was asked.\n`);
    message = `${taskId}: address ${reason.stage}: ${reason.reason}`.slice(0, 200);
  }

  git('add', '--all');
  git('commit', '--quiet', '--no-verify', '-m', message);
  const sha = git('rev-parse', 'HEAD');
  git('push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
  console.log(`developer: pushed ${sha.slice(0, 7)} to ${branch}`);
  // conveyor learns the new head from the forge; waiting a moment lets it announce the push first.
  await sleep(700);
} catch (e) {
  console.error(`developer: ${e.stderr ? String(e.stderr).trim() : e.message}`);
  process.exit(1);
}
