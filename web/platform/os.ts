/**
 * `node:os` for the browser: the one call engine/ and clara/ make, `freemem`, which the checkpoint
 * loader uses to refuse a model too large for memory before loading it. A page cannot know the
 * memory it may use, so it reports no limit and the browser's own out-of-memory handling applies.
 */
export function freemem(): number {
  return Number.MAX_SAFE_INTEGER;
}
