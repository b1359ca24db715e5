export * from './alert-text.ts';
export * from './alerts.ts';
