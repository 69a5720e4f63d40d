import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRunning } from '../../engine/io/index.ts';

/**
 * One run at a time per output directory: two runs resuming the same folder would both write its
 * metrics and checkpoints, duplicate steps and then fail. `OUT/.lock` holds the pid of the run that
 * owns the folder; a lock left by a process that no longer runs (killed with SIGKILL) is taken over.
 */
export const LOCK_FILE = '.lock';

export interface RunLock {
  release(): void;
}

export function lockRun(out: string): RunLock {
  mkdirSync(out, { recursive: true });
  const file = join(out, LOCK_FILE);
  for (;;) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' }); // 'x': fails if the file exists
      return { release: () => rmSync(file, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
    if (Number.isInteger(owner) && owner !== process.pid && isRunning(owner)) {
      throw new Error(`${out} is in use by another run (process ${owner}, see ${file}); wait for it or choose another output directory`);
    }
    if (owner === process.pid) throw new Error(`${out} is already being written by this process`);
    rmSync(file, { force: true }); // stale: its process is gone
  }
}
