import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * vitest's global setup: the temporary folders the tests make (mkdtemp under os.tmpdir(), in the
 * test processes and the CLI processes they start) go under one folder per run, removed when the
 * run ends, instead of accumulating in /tmp run after run. os.tmpdir() reads TMPDIR, which the
 * forked test processes inherit from this one.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'clara-tests-'));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
