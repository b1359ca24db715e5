export * from './pipeline.ts';
export * from './events.ts';
export * from './context.ts';
export * from './gates.ts';
export * from './describe.ts';
export * from './task-machine.ts';
export * from './background-loop.ts';
export * from './supervisor.ts';
