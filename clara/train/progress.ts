/**
 * The progress line on stderr: step/total, loss, throughput and ETA.
 *
 * On a terminal it is one line redrawn in place (`\r`); when stderr is not a terminal (a log file,
 * CI) a redrawn line would be a mess, so it prints plain lines instead: the first step, then at
 * most one every `intervalSeconds`, and the last.
 *
 * The ETA, unless the caller gives one, comes from the recent pace: the time of the last tenth
 * of the steps, never counting the first step (on WebGPU it compiles every pipeline, and an
 * average over all steps would take a long while to forget it). It settles within a few steps.
 */
export interface ProgressUpdate {
  step: number;
  /** Absent where there is none (compressing documents). */
  loss?: number;
  /** Units per second, in the bar's `unit` (tokens for training). */
  tokensPerSecond: number;
  /** Seconds left; default: from the recent pace. */
  etaSeconds?: number;
}

interface Writable {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class ProgressBar {
  private lastPrint = -Infinity;
  private drawn = false;
  /** (step, seconds) at each update, for the recent pace. */
  private readonly marks: Array<readonly [number, number]> = [];

  constructor(
    readonly total: number,
    private readonly stream: Writable = process.stderr,
    private readonly intervalSeconds = 10,
    private readonly unit = 'tok',
  ) {}

  update(u: ProgressUpdate): void {
    const now = performance.now() / 1000;
    this.marks.push([u.step, now]);
    const eta = u.etaSeconds ?? this.recentEta(u.step);
    const loss = u.loss === undefined ? '' : `  loss ${u.loss.toFixed(4)}`;
    const text = `step ${u.step}/${this.total}${loss}  ${formatRate(u.tokensPerSecond)} ${this.unit}/s  ETA ${formatDuration(eta)}`;
    if (this.stream.isTTY) {
      const width = Math.max(10, Math.min(30, (this.stream.columns ?? 80) - text.length - 4));
      const filled = Math.round((width * u.step) / this.total);
      this.stream.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
      this.drawn = true;
      return;
    }
    if (now - this.lastPrint >= this.intervalSeconds || u.step === this.total) {
      this.stream.write(`${text}\n`);
      this.lastPrint = now;
    }
  }

  /**
   * Seconds left at the pace of the last max(3, 10% of total) steps, measured from the first
   * update on (so the first step's one-off cost is never counted); unknown after one update.
   */
  private recentEta(step: number): number {
    if (step >= this.total) return 0;
    if (this.marks.length < 2) return NaN;
    const window = Math.max(3, Math.ceil(this.total * 0.1));
    const [fromStep, fromTime] = this.marks[Math.max(0, this.marks.length - 1 - window)]!;
    const [, nowTime] = this.marks[this.marks.length - 1]!;
    return ((nowTime - fromTime) / (step - fromStep || 1)) * (this.total - step);
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
