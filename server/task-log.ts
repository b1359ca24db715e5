import type { Logger } from 'pino';
import type { Conveyor } from '../actors/index.ts';

/**
 * One log line per committed transition, carrying the task id and the stage it is now in: stage changes at
 * the given level, moves within a stage at debug.
 */
export function followTransitions(conveyor: Conveyor, logger: Logger, o: { stageChanges: 'info' | 'debug' }): () => void {
  return conveyor.runtime.onCommitted((t) => {
    const from = t.from.split('.')[0] ?? '';
    const stage = t.to.split('.')[0] ?? '';
    const level = from !== stage ? o.stageChanges : 'debug';
    if (!logger.isLevelEnabled(level)) return;
    const title = conveyor.runtime.meta(t.taskId)?.title;
    logger[level](
      { taskId: t.taskId, stage, from: t.from, to: t.to, event: t.event.type, source: t.source },
      `${t.taskId}${title ? ` "${title}"` : ''}: ${t.from || 'new'} → ${t.to} on ${t.event.type} (${t.source})`,
    );
  });
}
