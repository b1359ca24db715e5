// A deployer agent as a deploy tool makes one: it notes its run in $RUNS_FILE, starts a background helper
// in its own process group that ignores SIGTERM (its pid in $HELPERS_FILE), reports staging healthy to
// conveyor's API with its job token, and exits 0, leaving the helper behind.
import { spawn } from 'node:child_process';
import { appendFileSync } from 'node:fs';

const env = process.env;
appendFileSync(env.RUNS_FILE, `${env.CONVEYOR_STAGE} ${env.CONVEYOR_JOB_ID}\n`);

// The helper says "ready" once SIGTERM is ignored, so conveyor's SIGTERM never reaches it earlier. With
// $HELPER_KEEPS_OUTPUT it holds the agent's stdout (the relay's pipe) open, as a helper that logs there does.
const helper = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.error('ready'); setInterval(() => {}, 1000);"], {
  stdio: ['ignore', env.HELPER_KEEPS_OUTPUT ? 'inherit' : 'ignore', 'pipe'],
});
await new Promise((resolve) => helper.stderr.once('data', resolve));
helper.stderr.destroy();
helper.unref();
appendFileSync(env.HELPERS_FILE, `${helper.pid}\n`);

const res = await fetch(`${env.CONVEYOR_API}/api/jobs/${env.CONVEYOR_JOB_ID}/report`, {
  method: 'POST',
  headers: { authorization: `Bearer ${env.CONVEYOR_TOKEN}`, 'content-type': 'application/json' },
  body: JSON.stringify({ kind: 'deploy.status', environment: 'staging', state: 'success' }),
});
if (!res.ok) {
  console.error(`deployer: report refused (HTTP ${res.status}): ${await res.text()}`);
  process.exit(1);
}
console.log('deployer: staging is healthy');
process.exit(0);
