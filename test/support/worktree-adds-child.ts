// A conveyor process for the interrupted-add test: it adds the worktrees of the tasks it is given, all at
// once, through conveyor's own worktree code, and prints `ADDING` before and `RESULT <json>` after.
// Only the worktree code is loaded, so the process starts quickly.
import { Worktrees } from '../../actors/git/worktree.ts';

interface ChildArgs {
  dataDir: string;
  remote: string;
  tasks: string[];
}

const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
const worktrees = new Worktrees({ dataDir: args.dataDir });
const repo = { name: 'shop', remote: args.remote, targetBranch: 'main' };
console.log('ADDING');
const results = await Promise.all(args.tasks.map((taskId) => worktrees.ensureWorktree(repo, taskId, `conveyor/${taskId}`)));
console.log(`RESULT ${JSON.stringify(results)}`);
