// conveyor demo agent: the analyst. Reads the issue (here only its title), writes nothing to the
// repository, and exits 0; leaving analysis needs a human's approval in the tracker.
import { setTimeout as sleep } from 'node:timers/promises';

const env = process.env;
console.log(`analyst: analysing ${env.CONVEYOR_TASK_ID} "${env.CONVEYOR_TITLE ?? ''}" (attempt ${env.CONVEYOR_ATTEMPT})`);
await sleep(400 + Math.floor(Math.random() * 400));
console.log('analyst: analysis posted to the tracker; a human approves it there');
