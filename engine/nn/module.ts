import { noGrad } from '../graph.ts';
import { formatShape, sameShape } from '../shape.ts';
import type { Tensor } from '../tensor.ts';
import { Parameter } from './parameter.ts';

/** What a module's state dict holds: parameter name → tensor. A plain object, so `tidy` sees into it. */
export type StateDict = Record<string, Tensor>;

export interface LoadStateDictOptions {
  /** Throw on missing or unexpected keys (default true). Shape mismatches always throw. */
  strict?: boolean;
}

export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

type Member = Parameter | Module | ReadonlyArray<Parameter | Module>;

/**
 * Base class of every layer and model: a tree of modules whose leaves are Parameters.
 *
 * Parameters are named by their path in the tree, joined with dots, as PyTorch's state_dict
 * does (`layers.0.self_attn.q_proj.weight`), so checkpoints map one-to-one onto HF names.
 * A member is found two ways:
 *  - any own field holding a Parameter, a Module, or an array of them (a ModuleList) is picked up
 *    under its field name, in the order the fields were assigned;
 *  - `registerModule` / `registerParameter` give a member an explicit name, for when the
 *    PyTorch name is not a good TypeScript field name: `this.selfAttn = this.registerModule('self_attn', …)`.
 *    Explicitly registered members come first.
 *
 * Subclasses write their own `forward(...)`, with whatever signature fits.
 */
export class Module {
  /** Training mode (dropout active…); `train()` / `eval()` set it on the whole tree. */
  training = true;
  private readonly registered = new Map<string, Member>();

  /** Names `module` `name` in this module's tree; returns it. Arrays name their items `name.0`, `name.1`… */
  registerModule<M extends Module | ReadonlyArray<Module>>(name: string, module: M): M {
    checkName(name);
    this.registered.set(name, module);
    return module;
  }

  /** Names `param` `name` in this module (its state-dict key ends in `.name`); returns it. */
  registerParameter<P extends Parameter>(name: string, param: P): P {
    checkName(name);
    this.registered.set(name, param);
    if (param.name === '') param.name = name;
    return param;
  }

  /** This module's direct members, registered ones first, then fields, each once. */
  private members(): Array<[string, Member]> {
    const out: Array<[string, Member]> = [...this.registered];
    const seen = new Set<unknown>(this.registered.values());
    for (const [key, value] of Object.entries(this)) {
      if (seen.has(value) || !isMember(value)) continue;
      seen.add(value);
      out.push([key, value]);
    }
    return out;
  }

  /** Direct child modules with their names (array items as `name.i`). */
  namedChildren(): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    for (const [name, m] of this.members()) {
      if (m instanceof Module) out.push([name, m]);
      else if (Array.isArray(m))
        m.forEach((item, i) => {
          if (item instanceof Module) out.push([`${name}.${i}`, item]);
        });
    }
    return out;
  }

  /** This module (named '') and every module below it, depth first, each module once. */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [];
    const seen = new Set<Module>();
    const visit = (m: Module, name: string): void => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([name, m]);
      for (const [child, sub] of m.namedChildren()) visit(sub, join(name, child));
    };
    visit(this, prefix);
    return out;
  }

  /** Parameters held directly by this module (not its children), with their local names. */
  private ownParameters(): Array<[string, Parameter]> {
    const out: Array<[string, Parameter]> = [];
    for (const [name, m] of this.members()) {
      if (m instanceof Parameter) out.push([name, m]);
      else if (Array.isArray(m))
        m.forEach((item, i) => {
          if (item instanceof Parameter) out.push([`${name}.${i}`, item]);
        });
    }
    return out;
  }

  /**
   * Every parameter of the tree with its dotted name. A parameter shared by two modules (tied
   * weights) is listed once, under its first name, unless `removeDuplicate` is false.
   */
  namedParameters(options: { prefix?: string; removeDuplicate?: boolean } = {}): Array<[string, Parameter]> {
    const removeDuplicate = options.removeDuplicate ?? true;
    const out: Array<[string, Parameter]> = [];
    const seen = new Set<Parameter>();
    // Every path to a module is walked (a state dict names a shared module under each of its
    // paths, like PyTorch); `ancestors` only stops a module that contains itself from looping.
    const visit = (m: Module, name: string, ancestors: Set<Module>): void => {
      if (ancestors.has(m)) return;
      ancestors.add(m);
      for (const [local, p] of m.ownParameters()) {
        if (removeDuplicate && seen.has(p)) continue;
        seen.add(p);
        out.push([join(name, local), p]);
      }
      for (const [child, sub] of m.namedChildren()) visit(sub, join(name, child), ancestors);
      ancestors.delete(m);
    };
    visit(this, options.prefix ?? '', new Set());
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /**
   * Snapshot of every parameter by name: detached tensors sharing the parameters' storage (no
   * copy), which keep today's values even after the optimiser moves on. Dispose them (or call
   * this inside `tidy`) when written out.
   */
  stateDict(): StateDict {
    const out: StateDict = {};
    for (const [name, p] of this.namedParameters({ removeDuplicate: false })) out[name] = p.detach();
    return out;
  }

  /**
   * Sets every parameter from `state` (a plain object or a Map, name → tensor on this model's
   * backend; other float dtypes are cast). Checks everything before changing anything: a shape
   * mismatch always throws, naming the key and both shapes; missing and unexpected keys throw
   * when `strict` (the default) and are returned otherwise. The parameters share the given
   * tensors' storage (no copy).
   */
  loadStateDict(state: Readonly<Record<string, Tensor>> | ReadonlyMap<string, Tensor>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const entries = state instanceof Map ? state : new Map(Object.entries(state));
    const params = this.namedParameters({ removeDuplicate: false });
    const known = new Set(params.map(([name]) => name));
    const missingKeys = params.filter(([name]) => !entries.has(name)).map(([name]) => name);
    const unexpectedKeys = [...entries.keys()].filter((k) => !known.has(k));
    const problems: string[] = [];
    // PyTorch's order: missing keys, unexpected keys, then size mismatches.
    if (strict && missingKeys.length > 0) problems.push(`Missing key(s) in state_dict: ${missingKeys.map(quote).join(', ')}.`);
    if (strict && unexpectedKeys.length > 0) problems.push(`Unexpected key(s) in state_dict: ${unexpectedKeys.map(quote).join(', ')}.`);
    for (const [name, p] of params) {
      const value = entries.get(name);
      if (value === undefined) continue;
      if (!sameShape(value.shape, p.shape)) {
        problems.push(
          `size mismatch for ${name}: copying a param with shape ${formatShape(value.shape)} from checkpoint, the shape in current model is ${formatShape(p.shape)}.`,
        );
      } else if (value.backend !== p.backend) {
        problems.push(
          `backend mismatch for ${name}: the checkpoint tensor is on the ${value.backend.name} backend, the parameter on the ${p.backend.name} backend.`,
        );
      } else if (value.dtype !== p.dtype && !(value.dtype === 'float32' || value.dtype === 'float64')) {
        problems.push(`dtype mismatch for ${name}: cannot load a ${value.dtype} tensor into a ${p.dtype} parameter.`);
      } else if (value.isDisposed) {
        problems.push(`${name}: the checkpoint tensor was disposed.`);
      }
    }
    if (problems.length > 0) {
      throw new Error(`Error(s) in loading state_dict for ${this.constructor.name}:\n\t${problems.join('\n\t')}`);
    }
    noGrad(() => {
      for (const [name, p] of params) {
        const value = entries.get(name);
        if (value === undefined) continue;
        if (value.dtype === p.dtype) {
          p.assign(value);
        } else {
          const cast = value.cast(p.dtype);
          p.assign(cast);
          cast.dispose(); // the parameter holds its own reference to the storage
        }
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Sets training mode on this module and every module below it; returns this. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode (dropout off): `train(false)`. */
  eval(): this {
    return this.train(false);
  }

  /** Freezes (`false`) or unfreezes (`true`) every parameter of the tree. */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad_(flag);
    return this;
  }

  /** Drops every parameter's gradient (PyTorch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees every parameter of the tree; the module cannot be used afterwards. */
  dispose(): void {
    for (const p of this.parameters()) p.dispose();
  }
}

function isMember(value: unknown): value is Member {
  if (value instanceof Parameter || value instanceof Module) return true;
  return Array.isArray(value) && value.length > 0 && value.every((v) => v instanceof Parameter || v instanceof Module);
}

function checkName(name: string): void {
  if (name === '' || name.includes('.')) throw new Error(`Module: a member name must be non-empty and contain no "." (got "${name}")`);
}

function join(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}.${name}`;
}

function quote(s: string): string {
  return `"${s}"`;
}
