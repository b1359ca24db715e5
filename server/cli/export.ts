import { pipelineFromConfig } from '../../actors/index.ts';
import { compileTaskMachine } from '../../machines/index.ts';
import { machineJson, toStatelySource } from '../api/machines.ts';
import { renderChartSvg } from '../chart/index.ts';
import { machineCatalog, type CatalogEntry } from '../machine-catalog.ts';
import { readConfigOrFail } from './config.ts';
import {CommandFailure, UsageError, parse, type Io } from './command.ts';

const formats = ['stately', 'json', 'svg'] as const;

export async function exportMachine(argv: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { format: { type: 'string' }, config: { type: 'string' } }, { min: 1, max: 1 });
  const format = (values.format ?? (io.json ? 'json' : undefined)) as (typeof formats)[number] | undefined;
  if (!format || !formats.includes(format)) throw new UsageError(`--format must be one of ${formats.join(', ')}${values.format ? `, not ${values.format}` : ''}`);
  const configPath = values.config ?? io.env.CONVEYOR_CONFIG;
  const task = compileTaskMachine(configPath ? pipelineFromConfig(readConfigOrFail(configPath)) : undefined);
  const catalog: Record<string, CatalogEntry> = machineCatalog(task);
  const id = positionals[0]!;
  const entry = Object.hasOwn(catalog, id) ? catalog[id] : undefined;
  if (!entry) throw new CommandFailure(`conveyor: no machine ${id}; machines: ${Object.keys(catalog).join(', ')}`);
  if (format === 'stately') io.out(toStatelySource(entry.machine));
  else if (format === 'json') io.out(`${JSON.stringify(machineJson(id, entry), null, 2)}\n`);
  else io.out(renderChartSvg(entry.machine, { title: `machine ${id}` }));
  return 0;
}
