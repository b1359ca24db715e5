import type { Failure, Steering } from '../../machines/index.ts';

/** What a prompt is made of: the task, the stage it runs, and why it runs again when it does. */
export interface PromptInput {
  title: string;
  /** The issue's text, when the tracker gave one. */
  description?: string;
  stage: string;
  branch: string;
  attempt: number;
  /** Why this is a retry or a rollback: what failed, where. */
  lastFailure: Failure | null;
  /** What people asked of the agent since its last run (comments addressed to conveyor). */
  steering?: Steering[];
}

/** What each stage of the default pipeline asks of its agent; a stage of another name gets its name. */
const ASKS: Record<string, string> = {
  analysis: 'Analyse the change this issue asks for and write down a plan; change no code.',
  development: 'Implement the change, commit it and push it to the branch.',
  review: 'Review the change on the branch and report a review.verdict (approved or changes_requested, with comments).',
  testing: 'Test the change on the branch and report a test.result (passed, with a summary).',
  'deploy-staging': 'Deploy the change to staging and report a deploy.status.',
  deploy: 'Deploy the change to production and report a deploy.status.',
};

/** An argument never longer than this (Linux refuses a single argument past 128 KiB). */
const MAX_PROMPT = 64 * 1024;

/** A person's words as the agent reads them: who, where, and what (or which question they answer). */
export function steeringText(s: Pick<Steering, 'text' | 'by' | 'via' | 'answers'>): string {
  const who = s.by ?? 'Someone';
  return s.answers ? `${who} answers your question ("${s.answers}"): ${s.text}` : `${who} asks${s.via ? ` (on the ${s.via})` : ''}: ${s.text}`;
}

/** The prompt an agent CLI is started with: one readable text, never starting with "-" (it is an argument). */
export function buildPrompt(p: PromptInput): string {
  const lines = [
    `Task: ${p.title}`,
    `Stage: ${p.stage} (attempt ${p.attempt}), on branch ${p.branch}.`,
    ASKS[p.stage] ?? `Do the work of the ${p.stage} stage.`,
    'If you cannot go on without a person\'s answer, end with a line "QUESTION: <your question>"; the answer comes in your next run.',
    'Report results with: curl -X POST "$CONVEYOR_API/api/jobs/$CONVEYOR_JOB_ID/report" -H "authorization: Bearer $CONVEYOR_TOKEN" -H "content-type: application/json" -d \'{"kind": ...}\'.',
  ];
  if (p.description) lines.push('', 'The issue:', p.description);
  if (p.lastFailure) {
    const where = p.lastFailure.stage === p.stage ? 'The previous attempt failed' : `The task came back from ${p.lastFailure.stage}`;
    lines.push('', `${where}: ${p.lastFailure.reason}`, 'Fix that first.');
  }
  for (const s of p.steering ?? []) lines.push('', steeringText(s));
  const text = lines.join('\n');
  return text.length > MAX_PROMPT ? `${text.slice(0, MAX_PROMPT - 1)}…` : text;
}
