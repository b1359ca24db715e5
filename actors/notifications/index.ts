export { Outbox, OUTBOX_PREFIX } from './outbox.ts';
export type { Notification, OutboxOptions, OutboxRecord } from './outbox.ts';
