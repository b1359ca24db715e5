export { Outbox, OUTBOX_PREFIX } from './outbox.ts';
export type { Notification, OutboxOptions, OutboxRecord } from './outbox.ts';
export * from './progress-comments.ts';
export * from './progress-text.ts';
