import type { FileSystem } from '../../store/index.ts';
import { ActivityRecorder, type ActivityRecord, type ActivityState, type AgentKind } from '../agents/index.ts';

/** How often a running job's log is read for new activity. */
export const ACTIVITY_POLL_MS = 250;

export interface JobActivityOptions {
  logPath: string;
  kind: AgentKind;
  fs: FileSystem;
  now(): number;
  maxRecords?: number;
  /** New records, durable in the activity log, with the state they leave; awaited before the next read. */
  onRecords(records: ActivityRecord[], state: Readonly<ActivityState>): Promise<void>;
}

/** Follows a running job's log into its activity log, until the job ends and the rest is read. */
export class JobActivity {
  #timer: NodeJS.Timeout | null = null;
  #tick: Promise<void> = Promise.resolve();

  private constructor(private readonly recorder: ActivityRecorder, private readonly o: JobActivityOptions) {}

  static async open(o: JobActivityOptions): Promise<JobActivity> {
    return new JobActivity(await ActivityRecorder.open(o), o);
  }

  get state(): Readonly<ActivityState> {
    return this.recorder.state;
  }

  /** Reads the log every ACTIVITY_POLL_MS while the job runs. */
  follow(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#tick = this.#tick.then(() => this.#read(false));
    }, ACTIVITY_POLL_MS);
    this.#timer.unref();
  }

  /** The job has ended: its log is read to the end, the last line too. */
  async finish(): Promise<Readonly<ActivityState>> {
    this.stop();
    await this.#tick;
    await this.#read(true);
    await this.recorder.close();
    return this.recorder.state;
  }

  /** Stops following without reading on (the process goes on; a restarted conveyor carries on from the file). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }

  async #read(final: boolean): Promise<void> {
    try {
      const records = await this.recorder.poll(final);
      if (records.length > 0) await this.o.onRecords(records, this.recorder.state);
    } catch {
      // A disk that fails here costs activity, never the job; the next read tries again from the same offset.
    }
  }
}
