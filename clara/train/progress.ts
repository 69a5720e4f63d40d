/**
 * The progress line on stderr: step/total, loss, tokens per second and ETA.
 *
 * On a terminal it is one line redrawn in place (`\r`); when stderr is not a terminal (a log file,
 * CI) a redrawn line would be a mess, so it prints plain lines instead: the first step, then at
 * most one every `intervalSeconds`, and the last.
 */
export interface ProgressUpdate {
  step: number;
  loss: number;
  tokensPerSecond: number;
  /** Seconds left at the current pace. */
  etaSeconds: number;
}

interface Writable {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class ProgressBar {
  private lastPrint = -Infinity;
  private drawn = false;

  constructor(
    readonly total: number,
    private readonly stream: Writable = process.stderr,
    private readonly intervalSeconds = 10,
  ) {}

  update(u: ProgressUpdate): void {
    const text = `step ${u.step}/${this.total}  loss ${u.loss.toFixed(4)}  ${formatRate(u.tokensPerSecond)} tok/s  ETA ${formatDuration(u.etaSeconds)}`;
    if (this.stream.isTTY) {
      const width = Math.max(10, Math.min(30, (this.stream.columns ?? 80) - text.length - 4));
      const filled = Math.round((width * u.step) / this.total);
      this.stream.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
      this.drawn = true;
      return;
    }
    const now = performance.now() / 1000;
    if (now - this.lastPrint >= this.intervalSeconds || u.step === this.total) {
      this.stream.write(`${text}\n`);
      this.lastPrint = now;
    }
  }

  /** Ends the redrawn line so that what follows starts on a fresh one. */
  finish(): void {
    if (this.drawn) this.stream.write('\n');
    this.drawn = false;
  }
}

function formatRate(x: number): string {
  return x >= 1000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0);
}

function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
