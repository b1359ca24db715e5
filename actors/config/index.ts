export { configSchema, configShapeSchema, crossFieldIssues } from './schema.ts';
export type { AgentConfig, ConveyorConfig, CrossFieldIssue, LimitsConfig, RepositoryConfig, TrackerConfig } from './schema.ts';
export { loadConfig, parseConfig, pipelineFromConfig, stageTimeoutMs } from './load-config.ts';
export type { ConfigResult } from './load-config.ts';
export * from './workbench-options.ts';
