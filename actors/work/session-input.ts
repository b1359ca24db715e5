import type { FileSystem } from '../../store/index.ts';
import { steeringText, type AgentKind } from '../agents/index.ts';

/** A running job whose agent takes input while it works (its kind has `input`). */
export interface RunningInput {
  jobId: string;
  /** The job's inbox, which its relay feeds to the agent's stdin. */
  inbox: string;
  kind: AgentKind;
}

/**
 * Appends a person's words to a running session's inbox. The task keeps them until the session replays
 * them (job.steered); if the disk refuses, or the session has closed its input, they wait for the next run.
 */
export async function tellSession(fs: FileSystem, running: RunningInput, words: { text: string; by?: string; via?: string }): Promise<void> {
  if (!running.kind.input) return;
  const line = Buffer.from(`${running.kind.input.message(steeringText(words))}\n`);
  try {
    const file = await fs.openAppend(running.inbox);
    await file.append(line).finally(() => file.close());
  } catch {
    // Kept by the task: the next run gets them.
  }
}
