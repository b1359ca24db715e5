export * from './facts.ts';
export * from './signatures.ts';
export * from './forge-payload.ts';
export * from './tracker-payload.ts';
export * from './delivery-key.ts';
export * from './forge-route.ts';
export * from './tracker-route.ts';
export * from './forge-repositories.ts';
