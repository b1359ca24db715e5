export type { ActivityKind, ActivityRecord, AgentKind, AgentQuestion, ParsedActivity, Usage } from './types.ts';
export { addUsage, zeroUsage } from './types.ts';
export { claudeCode } from './claude-code.ts';
export { codex } from './codex.ts';
export { agentKinds } from './kinds.ts';
export { buildPrompt, steeringText, type PromptInput } from './prompt.ts';
export { ActivityRecorder, activityPathFor, inboxPathFor, readActivity, DEFAULT_MAX_ACTIVITY_RECORDS, type ActivityState, type ActivityRecorderOptions } from './activity-recorder.ts';
export { KindExecutor, type KindExecutorOptions } from './kind-executor.ts';
export { ActivityFeed, type ActivityBatch, type ActivityListener } from './activity-feed.ts';
