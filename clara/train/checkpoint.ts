import { existsSync, mkdirSync, openSync, closeSync, fsyncSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tensor, type AdamW, type AdamWState, type Backend, type Parameter, type Tensor } from '../../engine/index.ts';
import { atomicWriteFile, hostToSafetensors, readJsonFile, readSafetensorsFile, writeSafetensorsFile, type TensorToWrite } from '../../engine/io/index.ts';
import type { StepMetrics } from './metricsLog.ts';
import type { TruncationCounts } from './objective.ts';
import type { TrainingConfig } from './trainingConfig.ts';

/**
 * Checkpoints of a run, written atomically into its output directory:
 *
 *     OUT/checkpoint/            the last good checkpoint
 *         …                      the model, as `saveModel` writes it (for CLaRa: config.json,
 *                                model.safetensors, clara.json, tokenizer.json, adapters/…)
 *         optimizer.safetensors  AdamW's moments (`<param>.exp_avg`, `<param>.exp_avg_sq`)
 *         trainer_state.json     step, settings, random state — written last: it marks the
 *                                checkpoint complete
 *
 * A checkpoint is built in `OUT/.checkpoint.tmp/` and only then swapped in by two renames:
 * `checkpoint → checkpoint.previous`, `.checkpoint.tmp → checkpoint`, then the previous one is
 * deleted. A crash at any moment leaves one complete checkpoint under one of the two names, and
 * `latestCheckpoint` finds it (and tidies up). A failure while writing leaves the old one untouched.
 */
export const CHECKPOINT_DIR = 'checkpoint';
export const PREVIOUS_DIR = 'checkpoint.previous';
export const TEMP_DIR = '.checkpoint.tmp';
export const TRAINER_STATE_FILE = 'trainer_state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';

interface RngState {
  s: number[];
  spareNormal: number | null;
}

/** trainer_state.json */
export interface TrainerState {
  format: 'clara-trainer-state';
  version: 1;
  /** Optimiser steps completed. */
  step: number;
  config: TrainingConfig;
  /** The objective's settings (stage, λ…). */
  objective: Record<string, unknown>;
  /** The state of every random number generator the run draws from, by name (e.g. `dropout`). */
  generators: Record<string, RngState>;
  /** What data the run reads: row count and a hash of the rows (the data order depends on both). */
  data: { rows: number; fingerprint: string };
  /**
   * Hashes of the parameters' bits: on resume, they prove the model is this checkpoint's. `frozen`
   * covers the parameters held still (the backbone), so a flipped bit there is caught too; checkpoints
   * written before it existed lack it.
   */
  parameters: { fingerprint: string; frozen?: string };
  /** Checkpoint every this many steps (0: only at the end): a resumed run keeps saving as often. */
  saveEvery?: number;
  /**
   * Texts cut to the model's length so far in the run, by field (docs, questions, answers); absent
   * in checkpoints written before it was counted.
   */
  truncated?: TruncationCounts;
  /** The metrics of the last step before the checkpoint. */
  metrics: StepMetrics | null;
}

export interface CheckpointContents {
  state: TrainerState;
  optimizer: AdamW;
  /** Writes the model into a directory (ClaraModel.save for CLaRa). */
  saveModel: (dir: string) => Promise<void>;
}

/** Writes a checkpoint into `out` atomically (see the file comment); returns its directory. */
export async function writeCheckpoint(out: string, contents: CheckpointContents): Promise<string> {
  mkdirSync(out, { recursive: true });
  recoverCheckpoint(out);
  const temp = join(out, TEMP_DIR);
  rmSync(temp, { recursive: true, force: true }); // what a crashed save left behind
  mkdirSync(temp);
  try {
    await contents.saveModel(temp);
    await writeOptimizerState(join(temp, OPTIMIZER_FILE), contents.optimizer);
    writeJson(join(temp, TRAINER_STATE_FILE), contents.state);
  } catch (error) {
    rmSync(temp, { recursive: true, force: true });
    throw error;
  }
  const final = join(out, CHECKPOINT_DIR);
  const previous = join(out, PREVIOUS_DIR);
  if (existsSync(final)) renameSync(final, previous);
  renameSync(temp, final);
  syncDirectory(out);
  rmSync(previous, { recursive: true, force: true });
  return final;
}

/**
 * Repairs what a crash during the swap can leave: no `checkpoint` but a complete
 * `checkpoint.previous` (renamed back), or both (the previous one deleted).
 */
function recoverCheckpoint(out: string): void {
  const final = join(out, CHECKPOINT_DIR);
  const previous = join(out, PREVIOUS_DIR);
  if (!existsSync(previous)) return;
  if (isComplete(final)) {
    rmSync(previous, { recursive: true, force: true });
  } else if (isComplete(previous)) {
    rmSync(final, { recursive: true, force: true });
    renameSync(previous, final);
  }
}

/** The run in `out` that a resume continues: its last checkpoint and trainer state; throws when it has none. */
export function savedRun(out: string): { dir: string; state: TrainerState } {
  const dir = latestCheckpoint(out);
  if (dir === null) throw new Error(`${out} holds no checkpoint to resume from`);
  return { dir, state: readTrainerState(dir) };
}

/** The run's last good checkpoint directory, or null when it has none. */
export function latestCheckpoint(out: string): string | null {
  if (!existsSync(out)) return null;
  recoverCheckpoint(out);
  const final = join(out, CHECKPOINT_DIR);
  return isComplete(final) ? final : null;
}

function isComplete(dir: string): boolean {
  return existsSync(join(dir, TRAINER_STATE_FILE));
}

export function readTrainerState(dir: string): TrainerState {
  const file = join(dir, TRAINER_STATE_FILE);
  const state = readJsonFile(file, 'the trainer state') as TrainerState;
  if (state === null || typeof state !== 'object' || state.format !== 'clara-trainer-state' || state.version !== 1)
    throw new Error(`${file}: not a trainer state (format ${String(state?.format)}, version ${String(state?.version)})`);
  checkTrainerState(state, file);
  return state;
}

/** The fields a resume relies on, with their types and bounds: an error names the file and the field. */
function checkTrainerState(state: TrainerState, file: string): void {
  const fail = (field: string, expected: string, value: unknown) => {
    throw new Error(`${file}: field "${field}" must be ${expected}, got ${JSON.stringify(value)}`);
  };
  const config = state.config as Partial<TrainingConfig> | undefined;
  if (config === null || typeof config !== 'object') fail('config', 'an object', config);
  const steps = config!.steps;
  if (!(typeof steps === 'number' && Number.isInteger(steps) && steps >= 1)) fail('config.steps', 'an integer ≥ 1', steps);
  // The trainer checks on resume that the step is within the run's steps.
  if (!(typeof state.step === 'number' && Number.isInteger(state.step) && state.step >= 0)) fail('step', 'an integer ≥ 0', state.step);
  const saveEvery = state.saveEvery;
  if (saveEvery !== undefined && !(typeof saveEvery === 'number' && Number.isInteger(saveEvery) && saveEvery >= 0))
    fail('saveEvery', 'an integer ≥ 0', saveEvery);
  for (const field of ['objective', 'generators', 'data', 'parameters'] as const) {
    if (state[field] === null || typeof state[field] !== 'object') fail(field, 'an object', state[field]);
  }
  if (typeof state.parameters.fingerprint !== 'string') fail('parameters.fingerprint', 'a string', state.parameters.fingerprint);
  for (const [field, n] of Object.entries(state.truncated ?? {})) {
    if (!(Number.isInteger(n) && n >= 0)) fail(`truncated.${field}`, 'an integer ≥ 0', n);
  }
}

/** AdamW's state dict as a safetensors file (float32 moments are written bit for bit). */
async function writeOptimizerState(file: string, optimizer: AdamW): Promise<void> {
  const { step, tensors } = optimizer.stateDict();
  const host: Record<string, TensorToWrite> = {};
  try {
    for (const [name, t] of Object.entries(tensors)) {
      host[name] = hostToSafetensors({ dtype: t.dtype, shape: [...t.shape], data: await t.toArray() });
    }
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
  writeSafetensorsFile(file, host, { step: String(step) });
}

/** Reads `writeOptimizerState`'s file onto `backend`, ready for `AdamW.loadStateDict`. */
export function readOptimizerState(dir: string, backend: Backend): AdamWState {
  const file = readSafetensorsFile(join(dir, OPTIMIZER_FILE));
  const tensors: Record<string, Tensor> = {};
  for (const name of file.names()) {
    const h = file.toHost(name);
    tensors[name] = tensor(h.data, h.shape, { dtype: h.dtype, backend });
  }
  return { step: Number(file.metadata.step), tensors };
}

/**
 * A model directory from what a user passed: a model directory itself (it has clara.json), or a
 * training run's output directory (its last checkpoint).
 */
export function resolveModelDir(dir: string): string {
  if (existsSync(join(dir, 'clara.json'))) return dir;
  const checkpoint = latestCheckpoint(dir);
  if (checkpoint !== null) return checkpoint;
  throw new Error(
    `${dir}: no CLaRa model there: looked for ${join(dir, 'clara.json')} (a model directory) and ${join(dir, CHECKPOINT_DIR, 'clara.json')} (a run folder's checkpoint)`,
  );
}

// ---- fingerprints ------------------------------------------------------------------------------

/** FNV-1a's starting hash (its 32-bit offset basis). */
export const FNV_OFFSET = 0x811c9dc5;

/** FNV-1a (32-bit) over bytes, continuing from `hash`. */
export function fnv1a(bytes: Uint8Array, hash = FNV_OFFSET): number {
  let h = hash;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193) >>> 0;
  return h;
}

/**
 * A hash of the parameters' names and exact bits, and whether every value is finite (read in the
 * same pass: a checkpoint is never written with a NaN or infinite parameter).
 */
export async function inspectParameters(params: ReadonlyArray<readonly [string, Parameter]>): Promise<{ fingerprint: string; finite: boolean }> {
  let h = FNV_OFFSET;
  let finite = true;
  const encoder = new TextEncoder();
  for (const [name, p] of params) {
    const data = await p.toArray();
    h = fnv1a(encoder.encode(name), h);
    h = fnv1a(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), h);
    if (finite)
      for (let i = 0; i < data.length; i++)
        if (!Number.isFinite(data[i])) {
          finite = false;
          break;
        }
  }
  return { fingerprint: h.toString(16).padStart(8, '0'), finite };
}

/** A hash of the rows as JSON, in order. */
export function dataFingerprint(rows: readonly unknown[]): string {
  let h = FNV_OFFSET;
  const encoder = new TextEncoder();
  for (const row of rows) h = fnv1a(encoder.encode(`${JSON.stringify(row)}\n`), h);
  return h.toString(16).padStart(8, '0');
}

function writeJson(file: string, value: unknown): void {
  atomicWriteFile(file, [new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`)]);
}

/** Makes the renames durable where the platform allows opening a directory. */
function syncDirectory(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not supported here (e.g. Windows); the files themselves are already synced
  }
}
