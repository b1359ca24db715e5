export * from './decision-record.ts';
export * from './decisions.ts';
