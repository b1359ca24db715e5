import type { TaskContext } from '../machines/index.ts';
import type { TaskRecord } from '../store/index.ts';

/** Lookups webhooks need (branch, head sha), kept current from committed task records. */
export class TaskIndex {
  private byBranch = new Map<string, string>();
  private bySha = new Map<string, string>();
  private shaOf = new Map<string, string>();

  update(record: TaskRecord): void {
    this.byBranch.set(branchKey(record.meta.repo, record.meta.branch), record.id);
    const sha = (record.snapshot as { context?: TaskContext }).context?.head?.sha;
    const old = this.shaOf.get(record.id);
    if (old && old !== sha && this.bySha.get(old) === record.id) this.bySha.delete(old);
    if (sha) {
      this.bySha.set(sha, record.id);
      this.shaOf.set(record.id, sha);
    }
  }

  /** Drops a task that left the live document (archived), so the index stays as large as the live tasks. */
  remove(record: TaskRecord): void {
    const key = branchKey(record.meta.repo, record.meta.branch);
    if (this.byBranch.get(key) === record.id) this.byBranch.delete(key);
    const sha = this.shaOf.get(record.id);
    if (sha && this.bySha.get(sha) === record.id) this.bySha.delete(sha);
    this.shaOf.delete(record.id);
  }

  taskForBranch(repo: string, branch: string): string | undefined {
    return this.byBranch.get(branchKey(repo, branch));
  }

  taskForHeadSha(sha: string): string | undefined {
    return this.bySha.get(sha);
  }
}

const branchKey = (repo: string, branch: string) => `${repo}\u0000${branch}`;
