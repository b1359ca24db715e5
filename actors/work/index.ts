export * from './workbench.ts';
export * from './job-record.ts';
export * from './job-tokens.ts';
export * from './dependencies.ts';
export * from './git-workbench.ts';
export * from './spend.ts';
export * from './job-outcome.ts';
