import { addUsage, zeroUsage, type Usage } from '../agents/index.ts';
import type { JobRecord } from './job-record.ts';

/** What a task's agents spent: in all, and by stage (SPEC: cost per job, per stage, per task). */
export interface Spend {
  total: Usage;
  byStage: Record<string, Usage>;
}

/** Adds up the tokens and cost the jobs' CLIs reported; jobs of a plain command report none. */
export function spendOf(jobs: readonly JobRecord[]): Spend {
  let total = zeroUsage();
  const byStage: Record<string, Usage> = {};
  for (const job of jobs) {
    if (!job.usage) continue;
    total = addUsage(total, job.usage);
    byStage[job.stage] = addUsage(byStage[job.stage] ?? zeroUsage(), job.usage);
  }
  return { total, byStage };
}

/** "$0.1873" or "no cost reported". */
export const costText = (usage: Usage): string => (usage.costUsd === null ? 'no cost reported' : `$${usage.costUsd.toFixed(4)}`);
