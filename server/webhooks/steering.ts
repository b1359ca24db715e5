import { PROGRESS_MARKER } from '../../actors/index.ts';

/** How a comment addresses conveyor: `@conveyor …` or `/conveyor …` at its start, any case. */
const ADDRESS = /^\s*(?:@conveyor|\/conveyor)\b[\s:,]*/i;

/**
 * The words a comment asks of conveyor's agent, or null when the comment is not addressed to conveyor. Conveyor's
 * own progress comments carry a marker and never start with the address, so they are never taken as steering.
 */
export function steeringText(body: string | null | undefined): string | null {
  if (!body || body.includes(PROGRESS_MARKER)) return null;
  const match = ADDRESS.exec(body);
  if (!match) return null;
  const text = body.slice(match[0].length).trim();
  return text === '' ? null : text.slice(0, 4000);
}

/** A Plane comment's text: its plain form if sent, else its HTML with the tags taken out. */
export function commentPlainText(stripped: string | null | undefined, html: string | null | undefined): string {
  // The marker is an HTML comment: it is kept in front of the text, so the check below still sees it.
  const own = (html ?? '').includes(PROGRESS_MARKER) || (stripped ?? '').includes(PROGRESS_MARKER) ? PROGRESS_MARKER : '';
  if (stripped) return own + stripped;
  return own + (html ?? '').replace(/<!--[\s\S]*?-->/g, '').replace(/<[^>]*>/g, ' ').replace(/&nbsp;/g, ' ').trim();
}
