import { parse as parseYaml } from 'yaml';
import { memoryTokenCount } from '../claraModel.ts';
import { DEMO_BASES, demoSettingsProblem, varyDemo, type DemoBase, type DemoSettings, type DemoVariation } from '../demo/demoSettings.ts';
import { TOPK_ESTIMATORS } from '../differentiableTopK.ts';

/**
 * A sweep's grid file (JSON or YAML, data only) and the cells it expands to.
 *
 *   base: full | quick | long  the demo's settings every cell starts from (default full)
 *   seeds: [0, 1, 2]           each setting runs once per seed (default [0])
 *   set:  { KEY: VALUE }       changed in every cell
 *   grid: { KEY: [VALUES] }    the cells: every combination of the values (a product)
 *   grids: [ { KEY: [VALUES] }, … ]   or several products, their union (a cell in two runs once)
 *
 * A KEY is a dotted path into DemoSettings (`stage1.mseWeight`, `compressionRate`,
 * `stage3.estimator`, `corpus.namePool`: any field, so a new one works without a change here), or a
 * name of `clara demo`'s variations (`people`, `stage1Steps`, `mseWeight`, …: varyDemo's, which keep
 * each hold's share of its stage). Every key and value is checked before anything runs: a key
 * that names no setting, a value of the wrong type, an estimator the table lacks, a compression
 * rate that does not divide the document length are errors that name the file and the key.
 */
export interface SweepCell {
  /** The folder name: each swept key's value, then the seed (`compressionRate-16_seed-0`). */
  id: string;
  /** The value of every key the grid sweeps (those its product leaves alone: their base value). */
  options: Record<string, SettingValue>;
  seed: number;
  settings: DemoSettings;
}

export interface SweepPlan {
  base: DemoBase;
  seeds: number[];
  /** The swept keys, in the grid file's order. */
  swept: string[];
  cells: SweepCell[];
}

export type SettingValue = number | string | boolean;

/** `clara demo`'s variation names and the setting each one changes (for a cell's recorded value). */
const VARIATIONS: Readonly<Record<keyof DemoVariation, string>> = {
  people: 'entities',
  candidates: 'candidates',
  compressionRate: 'compressionRate',
  mseWeight: 'stage1.mseWeight',
  stage1Steps: 'stage1.steps',
  stage2Steps: 'stage2.steps',
  oneFactSteps: 'stage2.oneFactSteps',
  stage3Steps: 'stage3.steps',
  estimator: 'stage3.estimator',
  temperature: 'stage3.temperature',
  k: 'stage3.k',
  counterfactuals: 'corpus.counterfactuals',
  pretrainPeople: 'corpus.pretrainPeople',
};

/** The variation names a grid may use as keys (`clara sweep --help` lists them). */
export const VARIATION_NAMES: readonly string[] = Object.keys(VARIATIONS);

/** The setting a key changes: a variation's, else the key itself as a dotted path. */
const pathOf = (key: string) => (Object.hasOwn(VARIATIONS, key) ? VARIATIONS[key as keyof DemoVariation] : key);

const TOP_LEVEL = ['base', 'seeds', 'set', 'grid', 'grids', 'description'];

/** An error in a grid file: the message names the file and the key. */
export class GridError extends Error {
  override name = 'GridError';
}

/** Parses and checks a grid file's text (`file` names it in errors) and expands its cells. */
export function parseGrid(text: string, file: string): SweepPlan {
  const fail = (where: string, message: string): never => {
    throw new GridError(`grid ${file}: ${where}${where ? ': ' : ''}${message}`);
  };
  let data: unknown;
  try {
    data = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    return fail('', `not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'} (${(error as Error).message.split('\n')[0]})`);
  }
  if (!isRecord(data)) return fail('', 'expected a mapping with `grid` or `grids` (and `base`, `seeds`, `set`)');
  for (const key of Object.keys(data)) if (!TOP_LEVEL.includes(key)) fail(key, `unknown key (known: ${TOP_LEVEL.join(', ')})`);

  const base = data.base ?? 'full';
  if (typeof base !== 'string' || !Object.hasOwn(DEMO_BASES, base)) fail('base', `must be ${Object.keys(DEMO_BASES).join(', ')}; got ${JSON.stringify(base)}`);
  const baseSettings = DEMO_BASES[base as DemoBase];
  const seeds = data.seeds ?? [0];
  if (!Array.isArray(seeds) || seeds.length === 0 || !seeds.every((s) => Number.isInteger(s) && s >= 0)) {
    fail('seeds', `must be a non-empty list of non-negative integers; got ${JSON.stringify(seeds)}`);
  }
  if (new Set(seeds as number[]).size !== (seeds as number[]).length) fail('seeds', 'lists a seed twice');

  const set = data.set ?? {};
  if (!isRecord(set)) return fail('set', 'must be a mapping from setting to value');
  for (const [key, value] of Object.entries(set)) checkSetting(baseSettings, key, value, (m) => fail(`set.${key}`, m));

  if (data.grid !== undefined && data.grids !== undefined) fail('grids', 'give `grid` (one product) or `grids` (several), not both');
  const products = data.grids ?? (data.grid === undefined ? undefined : [data.grid]);
  if (!Array.isArray(products) || products.length === 0) return fail('grid', 'missing: a mapping from setting to a list of values');
  const swept: string[] = [];
  products.forEach((product, p) => {
    const where = data.grids === undefined ? 'grid' : `grids[${p}]`;
    if (!isRecord(product) || Object.keys(product).length === 0) fail(where, 'must be a non-empty mapping from setting to a list of values');
    for (const [key, values] of Object.entries(product as Record<string, unknown>)) {
      if (!Array.isArray(values) || values.length === 0) fail(`${where}.${key}`, `must be a non-empty list of values; got ${JSON.stringify(values)}`);
      for (const [i, v] of (values as unknown[]).entries()) checkSetting(baseSettings, key, v, (m) => fail(`${where}.${key}[${i}]`, m));
      if (key in set) fail(`${where}.${key}`, 'is also in `set`; give it in one place');
      if (!swept.includes(key)) swept.push(key);
    }
  });

  // Seeds outermost: a sweep stopped halfway has every setting's first seeds, not all seeds of half the settings.
  const settingsOf: Array<{ options: Record<string, SettingValue>; settings: DemoSettings }> = [];
  products.forEach((product: Record<string, SettingValue[]>, p) => {
    for (const combination of cartesian(Object.entries(product))) {
      const where = `${data.grids === undefined ? 'grid' : `grids[${p}]`} cell ${JSON.stringify(combination)}`;
      const settings = settingsFor(baseSettings, { ...(set as Record<string, SettingValue>), ...combination });
      checkCombination(settings, (m) => fail(where, m));
      settingsOf.push({
        options: Object.fromEntries(swept.map((key) => [key, readSetting(settings, pathOf(key))])),
        settings,
      });
    }
  });
  const cells = new Map<string, SweepCell>();
  for (const seed of seeds as number[]) {
    for (const { options, settings } of settingsOf) {
      const id = [...swept.map((key) => `${key}-${options[key]}`), `seed-${seed}`].join('_').replace(/[^A-Za-z0-9.+_-]/g, '_');
      if (!cells.has(id)) cells.set(id, { id, options, seed, settings });
    }
  }
  return { base: base as DemoBase, seeds: seeds as number[], swept, cells: [...cells.values()] };
}

/** `base` with `changes` applied: the variation names through varyDemo, then the dotted paths. */
function settingsFor(base: DemoSettings, changes: Record<string, SettingValue>): DemoSettings {
  const variation = Object.fromEntries(Object.entries(changes).filter(([key]) => Object.hasOwn(VARIATIONS, key))) as DemoVariation;
  const settings = structuredClone(varyDemo(base, variation));
  for (const [key, value] of Object.entries(changes)) {
    if (Object.hasOwn(VARIATIONS, key)) continue;
    const path = key.split('.');
    let node = settings as unknown as Record<string, unknown>;
    for (const part of path.slice(0, -1)) node = node[part] as Record<string, unknown>;
    node[path[path.length - 1]!] = value;
  }
  return settings;
}

/** The value at a dotted path of the settings. */
function readSetting(settings: DemoSettings, path: string): SettingValue {
  let node: unknown = settings;
  for (const part of path.split('.')) node = (node as Record<string, unknown>)[part];
  return node as SettingValue;
}

/** A key names a setting (a leaf of DemoSettings, or a variation), and the value has its type. */
function checkSetting(base: DemoSettings, key: string, value: unknown, fail: (message: string) => never): void {
  const path = pathOf(key);
  let node: unknown = base;
  const parts = path.split('.');
  for (const [i, part] of parts.entries()) {
    if (!isRecord(node) || !Object.hasOwn(node, part)) {
      const known = isRecord(node) ? Object.keys(node).join(', ') : '';
      const prefix = parts.slice(0, i).join('.');
      fail(`names no setting of the demo (${prefix ? `${prefix} has` : 'known'}: ${known}${prefix ? '' : `; or a variation: ${VARIATION_NAMES.join(', ')}`})`);
    }
    node = node[part];
  }
  if (isRecord(node)) fail(`is a group of settings; name one of its fields (${path}.${Object.keys(node).join(`, ${path}.`)})`);
  if (typeof value !== typeof node) fail(`expects a ${typeof node} (as the demo's ${JSON.stringify(node)}); got ${JSON.stringify(value)}`);
  if (typeof value === 'number' && !Number.isFinite(value)) fail(`expects a finite number; got ${value}`);
  if (path === 'stage3.estimator' && !Object.hasOwn(TOPK_ESTIMATORS, value as string)) {
    fail(`unknown top-k estimator ${JSON.stringify(value)} (known: ${Object.keys(TOPK_ESTIMATORS).join(', ')})`);
  }
}

/** What no single value shows wrong: the compression rate and the document length, and demoSettingsProblem's combinations. */
function checkCombination(s: DemoSettings, fail: (message: string) => never): void {
  try {
    memoryTokenCount(s);
  } catch (error) {
    fail((error as Error).message);
  }
  const problem = demoSettingsProblem(s);
  if (problem !== null) fail(problem);
}

function* cartesian(axes: Array<[string, SettingValue[]]>): Generator<Record<string, SettingValue>> {
  if (axes.length === 0) {
    yield {};
    return;
  }
  const [[key, values], ...rest] = axes as [[string, SettingValue[]], ...Array<[string, SettingValue[]]>];
  for (const value of values) for (const tail of cartesian(rest)) yield { [key]: value, ...tail };
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
