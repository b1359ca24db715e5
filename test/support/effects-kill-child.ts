// A conveyor process for the kill -9 test: `drive` brings one task to its merge and idles there;
// `resume` reopens the same data dir and reports once the task is past its merge. Lines on stdout:
// `TASK <id>` and `RESULT <json>`.
import { Conveyor, Workbench, type ForgeConfig } from '../../actors/index.ts';
import { EmbeddedStore } from '../../store/index.ts';
import { driveToTesting, waitForTask } from './effects-pipeline.ts';

interface ChildArgs {
  phase: 'drive' | 'resume';
  dataDir: string;
  remote: string;
  forge: ForgeConfig;
  branch: string;
  pr: number;
  sha: string;
  taskId?: string;
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const workbench = new Workbench({ dataDir: args.dataDir, repos: [{ name: 'shop', remote: args.remote, targetBranch: 'main', forge: args.forge }] });
const conveyor = new Conveyor({ store: new EmbeddedStore({ dir: args.dataDir }), workbench });
await conveyor.start();

if (args.phase === 'drive') {
  const taskId = await driveToTesting(conveyor, { repo: 'shop', pr: args.pr, sha: args.sha, branch: args.branch });
  console.log(`TASK ${taskId}`);
  await conveyor.send(taskId, { type: 'test.result', sha: args.sha, passed: true }, { source: 'webhook' });
  // Waits here (the merge's answer never comes) until the test kills the process.
  setInterval(() => undefined, 60_000);
} else {
  const taskId = args.taskId!;
  await waitForTask(conveyor, taskId, (v) => v.state === 'deploy-staging.gating', 30_000);
  console.log(`RESULT ${JSON.stringify({ state: conveyor.task(taskId)?.state, history: conveyor.history(taskId), effects: conveyor.effects({ taskId }), bootId: conveyor.runtime.bootId })}`);
  await conveyor.stop();
  process.exit(0);
}
