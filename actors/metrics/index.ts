export { ConveyorMetrics, type WebhookOutcome } from './conveyor-metrics.ts';
export type { BackgroundFigures, LoopFigures, ScrapeSource } from './scrape-metrics.ts';
