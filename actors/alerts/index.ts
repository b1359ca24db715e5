export * from './alert-text.ts';
export * from './alerts.ts';
export * from './rate-limit-alerts.ts';
