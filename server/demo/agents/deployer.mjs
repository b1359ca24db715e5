// conveyor demo agent: the deployer. Deploys to staging (stage deploy-staging) or production (stage
// deploy) and reports the deploy status with its URL to conveyor's API.
import { setTimeout as sleep } from 'node:timers/promises';
import { report } from './report.mjs';

const env = process.env;


try {
  const stage = env.CONVEYOR_STAGE;
  if (stage !== 'deploy-staging' && stage !== 'deploy') throw new Error(`no deploy for stage ${stage}`);
  const environment = stage === 'deploy-staging' ? 'staging' : 'production';
  const url = environment === 'staging' ? `https://staging.example/demo/${env.CONVEYOR_TASK_ID}` : 'https://demo.example/';
  console.log(`deployer: deploying ${env.CONVEYOR_TASK_ID} to ${environment}`);
  await sleep(400 + Math.floor(Math.random() * 500));
  await report('deployer', { kind: 'deploy.status', environment, state: 'success', url });
} catch (e) {
  console.error(`deployer: ${e.message}`);
  process.exit(1);
}
