export { activeStateIds, chartModel, type ChartEdge, type ChartableMachine, type ChartModel, type ChartNode } from './chart-model.ts';
export { layoutChart, type Layout } from './layout.ts';
export { renderChartSvg, type ChartOptions } from './render-svg.ts';
