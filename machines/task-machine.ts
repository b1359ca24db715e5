import { and, fromCallback, setup } from 'xstate';
import type { Steering, TaskContext, TaskInput } from './context.ts';
import type { TaskEvent } from './events.ts';
import type { EffectName, GateName, PipelineDefinition, StageDefinition } from './pipeline.ts';
import { effectKey, initialContext } from './context.ts';
import { bound } from './waits.ts';
import { defaultPipeline } from './pipeline.ts';
import { decisionActions } from './decision-actions.ts';
import { ABORT, APPROVE, CONTINUE_AFTER_RESET, EFFECT_HAPPENED, EFFECT_RUN_AGAIN, REJECT, type TaskEmitted } from './events.ts';
import { taskActions } from './task-actions.ts';
import { decisionGuards, taskGuards } from './task-guards.ts';

export const TASK_MACHINE_ID = 'task';
/** Bump with every change to the chart's shape; persisted snapshots carry it. */
export const TASK_MACHINE_VERSION = 1;

/** Inputs of the invoked actors; implementations come from actors/ through machine.provide(). */
export interface PrepareInput { taskId: string; stage: string; branch: string; repo: string; epoch: number }
export interface AgentInput { taskId: string; stage: string; agent: string | null; repo: string; branch: string; job: TaskContext['job']; epoch: number; lastFailure: TaskContext['lastFailure']; steering: Steering[] }
export interface TimerInput { taskId: string; deadline: number | null }
export interface EffectInput { taskId: string; effect: EffectName; key: string; repo: string; branch: string; head: TaskContext['head'] }

/** Does nothing; the runtime provides the real implementation. Keeps the chart loadable on its own. */
const placeholder = fromCallback(() => undefined);

const taskSetup = setup({
  types: {
    context: {} as TaskContext,
    events: {} as TaskEvent,
    input: {} as TaskInput,
    emitted: {} as TaskEmitted,
  },
  actors: {
    prepareStage: placeholder,
    runAgent: placeholder,
    timer: placeholder,
    mergePullRequest: placeholder,
    deployStaging: placeholder,
    deployProduction: placeholder,
  },
  guards: { ...taskGuards, ...decisionGuards },
  actions: { ...taskActions, ...decisionActions },
});

type AnyConfig = Record<string, unknown>;

/** A timer that cannot be armed leaves its state with no deadline: a human looks instead. */
const timerInvoke = (id: string, stage: string) => ({
  id,
  src: 'timer',
  input: ({ context }: { context: TaskContext }): TimerInput => ({ taskId: context.id, deadline: context.deadline }),
  onError: { target: '#task.escalated', actions: { type: 'escalate', params: { stage, reason: `${id} failed` } } },
});

/** The transition(s) a red gate takes, from the stage's onRed. */
function onRedTransitions(stage: StageDefinition, gate: GateName, stages: Map<string, StageDefinition>, guard: unknown): AnyConfig[] {
  const escalate = { target: '#task.escalated', actions: [{ type: 'escalate', params: { stage: stage.id, gate } }] };
  if (stage.onRed === 'escalate') return [{ guard, ...escalate }];
  const to = stages.get(stage.onRed.rollbackTo)!;
  const rollback = { target: `#task.active.${to.id}`, reenter: true, actions: [{ type: 'enterStage', params: { gate: to.gate, rollback: true } }] };
  if (!stage.onRed.countsRetry) return [{ guard, ...rollback }];
  const count = { type: 'countRetry', params: { stage: stage.id, gate } };
  return [
    { guard: and([guard as never, 'retriesLeft']), ...rollback, actions: [count, ...rollback.actions] },
    { guard, ...escalate, actions: [count, ...escalate.actions] },
  ];
}

function effectState(stage: StageDefinition, effect: EffectName, next: string, stages: Map<string, StageDefinition>, first: boolean): AnyConfig {
  const isEffect = { type: 'isEffect', params: { effect } };
  const failed = { stage: stage.id, reason: `${effect} failed` };
  return {
    tags: ['effect'],
    initial: 'running',
    states: {
      running: {
        ...bound('deadline'),
        entry: { type: 'armStepDeadline', params: { step: 'effect' } },
        invoke: [{
          id: effect,
          src: effect,
          input: ({ context }: { context: TaskContext }): EffectInput => ({
            taskId: context.id,
            effect,
            key: effectKey(context, effect),
            repo: context.repo,
            branch: context.branch,
            head: context.head,
          }),
          // The implementation itself threw (nothing journaled says it ran): retried under a new key, then a human.
          onError: [
            { guard: 'effectAttemptsLeft', target: 'backoff', actions: { type: 'effectFailed', params: { stage: stage.id } } },
            { target: '#task.escalated', actions: { type: 'escalate', params: failed } },
          ],
        }, timerInvoke('effectTimer', stage.id)],
        on: {
          // Unreported past its deadline: whether it happened is not guessed, a human is asked (its journal record tells what is known).
          'timer.fired': { guard: 'currentDeadline', target: 'unknown', actions: { type: 'openEffectDecision', params: { effect } } },
          'effect.done': { guard: isEffect, target: `#task.active.${stage.id}.${next}`, actions: 'effectDone' },
          'effect.failed': [
            { guard: and([isEffect as never, 'effectAttemptsLeft']), target: 'backoff', actions: { type: 'effectFailed', params: { stage: stage.id } } },
            // A non-retriable failure (a merge conflict, say) is the stage's red outcome.
            // After an earlier effect of the stage has happened (a merge), a rollback would undo nothing: a human decides.
            ...(stage.onRed === 'escalate' || !first
              ? [{ guard: isEffect, target: '#task.escalated', actions: { type: 'escalate', params: failed } }]
              : onRedEffect(stage, isEffect, stages, failed)),
          ],
          'effect.unknown': { guard: isEffect, target: 'unknown', actions: { type: 'openEffectDecision', params: { effect } } },
        },
      },
      unknown: {
        ...bound('human'),
        tags: ['awaiting-decision'],
        exit: 'withdrawDecision',
        on: {
          'decision.resolved': [
            { guard: { type: 'answers', params: { option: EFFECT_HAPPENED } }, target: `#task.active.${stage.id}.${next}`, actions: [{ type: 'settleEffect', params: { outcome: 'happened' } }, 'effectDone'] },
            { guard: { type: 'answers', params: { option: EFFECT_RUN_AGAIN } }, target: 'running', actions: [{ type: 'settleEffect', params: { outcome: 'not_happened' } }, 'nextEffectAttempt'] },
            { guard: { type: 'answers', params: { option: ABORT } }, target: '#task.cancelled', actions: [{ type: 'settleEffect', params: { outcome: 'not_happened' } }] },
          ],
        },
      },
      backoff: {
        ...bound('deadline'),
        tags: ['backoff'],
        invoke: timerInvoke('effectBackoff', stage.id),
        on: { 'timer.fired': { guard: 'currentDeadline', target: 'running', actions: 'clearDeadline' } },
      },
    },
  };
}

function onRedEffect(stage: StageDefinition, isEffect: AnyConfig, stages: Map<string, StageDefinition>, failed: { stage: string; reason: string }): AnyConfig[] {
  if (stage.onRed === 'escalate') return [];
  const to = stages.get(stage.onRed.rollbackTo)!;
  const rollback = { target: `#task.active.${to.id}`, reenter: true };
  const enter = { type: 'enterStage', params: { gate: to.gate, rollback: true } };
  const count = { type: 'countRetry', params: { stage: stage.id, gate: stage.gate } };
  if (!stage.onRed.countsRetry) return [{ guard: isEffect, ...rollback, actions: [enter] }];
  return [
    { guard: and([isEffect as never, 'retriesLeft']), ...rollback, actions: [count, enter] },
    { guard: isEffect, target: '#task.escalated', actions: [count, { type: 'escalate', params: failed }] },
  ];
}

function stageState(stage: StageDefinition, index: number, pipeline: PipelineDefinition, stages: Map<string, StageDefinition>): AnyConfig {
  const nextStage = pipeline.stages[index + 1];
  const leave = nextStage
    ? { target: `#task.active.${nextStage.id}`, actions: [{ type: 'enterStage', params: { gate: nextStage.gate, forward: true } }] }
    : { target: '#task.done' };
  const gate = { type: 'gateGreen', params: { gate: stage.gate } };
  const red = { type: 'gateRed', params: { gate: stage.gate } };
  const states: AnyConfig = {};
  stage.effects.forEach((effect, i) => {
    states[effect] = effectState(stage, effect, stage.effects[i + 1] ?? 'preparing', stages, i === 0);
  });
  const jobFailed = { type: 'jobFailed', params: { stage: stage.id } };
  const escalate = (reason: string) => ({ type: 'escalate', params: { stage: stage.id, reason } });
  const prepareInvoke = (id: string, onError: AnyConfig) => ({
    id,
    src: 'prepareStage',
    input: ({ context }: { context: TaskContext }): PrepareInput => ({ taskId: context.id, stage: stage.id, branch: context.branch, repo: context.repo, epoch: context.epoch }),
    onError,
  });
  // Taken at the gate only, where nothing of the task's works in its worktree: the refresh itself is
  // then the one writer there (an agent, a pre-merge rebase or a preparation never run beside it).
  const refresh = { 'stage.refresh': { guard: { type: 'refreshes', params: { stage: stage.id } }, target: 'refreshing' } };
  const automaticGate = {
    entry: 'armGateDeadline',
    invoke: timerInvoke('gateTimer', stage.id),
    on: { 'timer.fired': { guard: 'currentDeadline', target: '#task.escalated', actions: escalate(`${stage.gate} did not turn green in time`) }, ...refresh },
  };
  Object.assign(states, {
    preparing: {
      ...bound('deadline'),
      tags: ['preparing'],
      entry: { type: 'armStepDeadline', params: { step: 'prepare' } },
      invoke: [prepareInvoke('prepare', { target: '#task.escalated', actions: escalate('preparing failed') }), timerInvoke('prepareTimer', stage.id)],
      on: {
        'timer.fired': { guard: 'currentDeadline', target: '#task.escalated', actions: escalate('preparing the stage did not finish before its deadline') },
        'stage.prepared': 'working',
        'stage.prepare_failed': { target: '#task.escalated', actions: escalate('preparing failed') },
      },
    },
    working: {
      tags: ['working'],
      entry: 'queueJob',
      invoke: {
        id: 'job',
        src: 'runAgent',
        input: ({ context }: { context: TaskContext }): AgentInput => ({
          taskId: context.id, stage: stage.id, agent: stage.agent, repo: context.repo, branch: context.branch,
          job: context.job, epoch: context.epoch, lastFailure: context.lastFailure, steering: context.steering ?? [],
        }),
        // The runner itself failed (not the agent): the attempt failed, with the error as its reason.
        onError: [
          { guard: 'attemptsLeft', target: 'retrying', actions: jobFailed },
          { target: '#task.escalated', actions: escalate('job attempts exhausted') },
        ],
      },
      initial: 'queued',
      states: {
        // Waits for a slot as long as the slots are busy; the reaper sweeps a request the scheduler lost.
        queued: { ...bound('reaper'), tags: ['queued'] },
        running: {
          ...bound('deadline'),
          tags: ['running'],
          // Resumed from a hold through history: the job is a new one that has not started yet.
          always: { guard: 'jobNotStarted', target: 'queued' },
          invoke: timerInvoke('jobTimer', stage.id),
          on: {
            'timer.fired': [
              { guard: and(['currentDeadline', 'attemptsLeft']), target: '#task.active.' + stage.id + '.retrying', actions: jobFailed },
              { guard: 'currentDeadline', target: '#task.escalated', actions: escalate('job attempts exhausted') },
            ],
          },
        },
      },
      on: {
        'job.started': { guard: 'currentJob', target: '.running', actions: 'jobStarted' },
        'job.steered': { guard: 'currentJob', actions: 'steeredInSession' },
        'job.exited': [
          // A question is not a failure: the run had its steering, and a person answers before the next one.
          { guard: and(['currentJob', 'asksQuestion']), target: 'asking', actions: ['clearDeadline', 'deliverSteering', 'recordQuestion'] },
          { guard: and(['currentJob', 'exitedCleanly']), target: 'gating', actions: ['clearDeadline', 'deliverSteering'] },
          { guard: and(['currentJob', 'attemptsLeft']), target: 'retrying', actions: jobFailed },
          { guard: 'currentJob', target: '#task.escalated', actions: escalate('job attempts exhausted') },
        ],
      },
    },
    // The agent asked a person something: a decision asks it (again after a hold), the answer starts the next run.
    asking: {
      ...bound('human'),
      tags: ['awaiting-decision'],
      entry: 'openQuestion',
      exit: 'withdrawDecision',
      on: { 'decision.resolved': { guard: 'resolves', target: 'working', actions: 'answerQuestion' } },
    },
    retrying: {
      ...bound('deadline'),
      tags: ['backoff'],
      invoke: timerInvoke('backoffTimer', stage.id),
      on: { 'timer.fired': { guard: 'currentDeadline', target: 'working', actions: 'clearDeadline' } },
    },
    gating: {
      ...bound(stage.humanGate ? 'human' : 'deadline'),
      tags: stage.humanGate ? ['gating', 'human-gate'] : ['gating'],
      always: [{ guard: gate, ...leave }, ...onRedTransitions(stage, stage.gate, stages, red)],
      // A human gate waits for a human; an automatic one is bounded, so a task is never silently stuck.
      ...(stage.humanGate ? { ...approvalDecision, on: { ...approvalDecision.on, ...refresh } } : automaticGate),
    },
    // The worktree is synced with its remote (an operator's refresh), then the gate is looked at again.
    // A sync that could not look changes nothing; one that discarded work goes to recovery (the stage's
    // sync_reset / sync_failed). The gate's deadline still runs.
    // At a human gate, which has no deadline of its own, the refresh gets a preparation's: past it, the gate is looked at again.
    refreshing: stage.humanGate
      ? {
          ...bound('deadline'),
          tags: ['preparing'],
          entry: { type: 'armStepDeadline', params: { step: 'prepare' } },
          invoke: [prepareInvoke('refresh', { target: 'gating', actions: 'clearDeadline' }), timerInvoke('refreshTimer', stage.id)],
          on: {
            'stage.prepared': { target: 'gating', actions: 'clearDeadline' },
            'stage.prepare_failed': { target: 'gating', actions: 'clearDeadline' },
            'timer.fired': { guard: 'currentDeadline', target: 'gating', actions: 'clearDeadline' },
          },
        }
      : {
          ...bound('deadline'),
          tags: ['preparing'],
          invoke: [prepareInvoke('refresh', { target: 'gating' }), automaticGate.invoke],
          on: { 'stage.prepared': 'gating', 'stage.prepare_failed': 'gating', 'timer.fired': automaticGate.on['timer.fired'] },
        },
  });
  const recovery = (target: string) => ({ target, actions: { type: 'failForRecovery', params: { stage: stage.id } } });
  return {
    initial: stage.effects[0] ?? 'preparing',
    on: {
      ...factHandlers(stage.gate),
      'stage.sync_reset': recovery('#task.recovery.awaitingAck'),
      'stage.sync_failed': recovery('#task.recovery.stillDivergent'),
      'budget.exceeded': { target: '#task.escalated', actions: escalate('budget exceeded') },
    },
    states,
  };
}

/** A human gate also opens an analysis_approval decision; tracker or decision, whichever answers first wins. */
const approvalDecision = {
  entry: { type: 'openDecision', params: { contextKey: 'analysis_approval', question: 'Approve the analysis and start development?', options: [APPROVE, REJECT] } },
  exit: 'withdrawDecision',
  on: {
    'decision.resolved': [
      { guard: { type: 'answers', params: { option: APPROVE } }, actions: ['recordApproval', 'closeDecision'] },
      { guard: { type: 'answers', params: { option: REJECT } }, actions: ['recordApproval', 'closeDecision'] },
    ],
  },
};

/** Facts a stage's own gate reads are accepted only there (and on hold); elsewhere they are refused. */
function factHandlers(gate: GateName): AnyConfig {
  switch (gate) {
    case 'approval':
      return { 'analysis.approved': { actions: 'recordApproval' }, 'analysis.rejected': { actions: 'recordApproval' } };
    case 'reviewApproved':
      return { 'review.verdict': { guard: 'onHead', actions: 'recordVerdict' } };
    case 'testsPassed':
      return { 'test.result': { guard: 'onHead', actions: 'recordTests' } };
    case 'stagingHealthy':
      return { 'deploy.status': { guard: { type: 'deployTo', params: { environment: 'staging' } }, actions: 'recordDeploy' } };
    case 'productionHealthy':
      return { 'deploy.status': { guard: { type: 'deployTo', params: { environment: 'production' } }, actions: 'recordDeploy' } };
    case 'ciGreen':
      return {};
  }
}

/** Compiles a pipeline definition into the task statechart (SPEC R1): one source for definition, runtime and chart. */
export function compileTaskMachine(pipeline: PipelineDefinition = defaultPipeline) {
  const stages = new Map(pipeline.stages.map((s) => [s.id, s]));
  const stageStates: AnyConfig = {};
  pipeline.stages.forEach((s, i) => {
    stageStates[s.id] = stageState(s, i, pipeline, stages);
  });
  const first = pipeline.stages[0]!;
  const config = {
    id: TASK_MACHINE_ID,
    context: ({ input }: { input: TaskInput }) => initialContext(input),
    initial: 'active',
    on: {
      'task.cancel': '.cancelled',
      'task.steer': { actions: 'recordSteer' },
      'ci.status': { guard: 'ciForHead', actions: 'recordCi' },
      'pr.opened': { actions: 'recordHead' },
      'pr.synchronized': { actions: 'recordHead' },
      'pr.merged': { guard: 'onHead', actions: 'recordMerged' },
      'dependency.done': { actions: 'recordDependencyDone' },
    },
    states: {
      active: {
        initial: first.id,
        on: {
          'task.hold': { target: '#task.onHold', actions: 'recordHold' },
          // Someone closed the pull request without merging: nothing automatic goes on until a human looks.
          'pr.closed': { target: '#task.onHold', actions: 'recordHold' },
        },
        states: { ...stageStates, hist: { type: 'history', history: 'deep' } },
      },
      onHold: {
        ...bound('human'),
        tags: ['on-hold'],
        on: {
          'task.resume': { target: '#task.active.hist', actions: 'clearHold' },
          'task.hold': { actions: 'recordHold' },
          'analysis.approved': { actions: 'recordApproval' },
          'analysis.rejected': { actions: 'recordApproval' },
          'review.verdict': { guard: 'onHead', actions: 'recordVerdict' },
          'test.result': { guard: 'onHead', actions: 'recordTests' },
          'deploy.status': { actions: 'recordDeploy' },
        },
      },
      recovery: {
        tags: ['failed'],
        // Leaving recovery other than by its answer (a cancel) withdraws the decision, so none stays pending.
        exit: 'withdrawDecision',
        initial: 'awaitingAck',
        states: {
          awaitingAck: {
            ...bound('human'),
            tags: ['awaiting-decision'],
            on: {
              'decision.resolved': [
                ...pipeline.stages.map((s) => ({
                  guard: and([{ type: 'answers', params: { option: CONTINUE_AFTER_RESET } } as never, { type: 'recoveringFrom', params: { stage: s.id } }]),
                  target: `#task.active.${s.id}`,
                  actions: ['restartStage', { type: 'enterStage', params: { gate: s.gate } }],
                })),
                { guard: { type: 'answers', params: { option: ABORT } }, target: '#task.cancelled', actions: 'closeDecision' },
              ],
            },
          },
          stillDivergent: {
            ...bound('human'),
            tags: ['awaiting-decision'],
            on: { 'decision.resolved': { guard: { type: 'answers', params: { option: ABORT } }, target: '#task.cancelled', actions: 'closeDecision' } },
          },
        },
      },
      escalated: {
        ...bound('human'),
        tags: ['escalated'],
        on: {
          'task.retry': pipeline.stages.map((s) => ({
            guard: { type: 'escalatedFrom', params: { stage: s.id } },
            target: `#task.active.${s.id}`,
            actions: ['clearEscalation', { type: 'enterStage', params: { gate: s.gate } }],
          })),
        },
      },
      done: { type: 'final', tags: ['terminal'], ...bound('final') },
      cancelled: { type: 'final', tags: ['terminal'], ...bound('final') },
    },
  };
  return taskSetup.createMachine(config as never);
}

export type TaskMachine = ReturnType<typeof compileTaskMachine>;
