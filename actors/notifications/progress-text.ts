import type { ActivityRecord } from '../agents/index.ts';

/** Every progress comment carries this marker, so conveyor never reads its own comments as steering. */
export const PROGRESS_MARKER = '<!-- conveyor:progress -->';

/** What a progress comment shows: the stage, where the task and its job are, and the latest thing that happened. */
export interface Progress {
  stage: string;
  /** The task's state path, `development.working.running`. */
  state: string;
  job: { id: string; attempt: number; status: string } | null;
  latest: string | null;
  at: number;
}

/** One line for an activity record, or null for records that say nothing to a reader (usage, session). */
export function activityLine(r: ActivityRecord): string | null {
  switch (r.kind) {
    case 'text':
      return r.text ? `said: ${oneLine(r.text)}` : null;
    case 'tool':
      return `used ${r.tool ?? 'a tool'}${r.target ? ` on ${oneLine(r.target)}` : ''}`;
    case 'file':
      return r.path ? `changed ${r.path}` : null;
    case 'error':
      return `error: ${oneLine(r.text ?? 'unknown')}`;
    case 'result':
      return `finished${r.isError ? ' with an error' : ''}${r.text ? `: ${oneLine(r.text)}` : ''}`;
    case 'input':
      return `was told: ${oneLine(r.text ?? '')}`;
    case 'question':
      return `asks: ${oneLine(r.text ?? '')} (answer the task's decision)`;
    case 'truncated':
      return 'activity log is full; later activity is not recorded';
    case 'session':
    case 'usage':
      return null;
    default: {
      const never: never = r.kind;
      return String(never);
    }
  }
}

const oneLine = (text: string, max = 300): string => {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

function lines(p: Progress): string[] {
  const job = p.job ? `job ${p.job.id} (attempt ${p.job.attempt}): ${p.job.status}` : 'no job running';
  return [`conveyor · stage ${p.stage}`, `state: ${p.state}`, job, `latest: ${p.latest ?? 'nothing yet'}`, `updated ${new Date(p.at).toISOString()}`];
}

/** The comment as Markdown (forges). */
export function progressMarkdown(p: Progress): string {
  const [title, ...rest] = lines(p);
  return [PROGRESS_MARKER, `**${title}**`, '', ...rest.map((l) => `- ${l}`)].join('\n');
}

/** The comment as HTML (the tracker's comment_html). */
export function progressHtml(p: Progress): string {
  const [title, ...rest] = lines(p).map(escapeHtml);
  return `${PROGRESS_MARKER}<p><strong>${title}</strong></p><ul>${rest.map((l) => `<li>${l}</li>`).join('')}</ul>`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
