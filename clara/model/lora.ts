import {
  dropout,
  empty,
  isGradEnabled,
  isHalf,
  kaimingUniform,
  keep,
  matmulAddScaled,
  noGrad,
  zeros,
  type Backend,
  type DType,
  type Generator,
  type Storage,
  type Tensor,
} from '../../engine/index.ts';
import { Module, Parameter } from '../../engine/nn/index.ts';

/**
 * A linear layer with a frozen base weight and any number of named LoRA adapters.
 *
 *   y = x Wᵀ + (alpha / r) · B(A(dropout(x)))      W [out, in], A [r, in], B [out, r]
 *
 * Exactly one adapter (or none) is active in a call, named by the caller, so the three CLaRa roles
 * (compressor, generator, query reasoner) share one base model. Each adapter is its own set of
 * parameters; whichever adapter a forward used is the one that receives gradients.
 * A fresh adapter starts as the identity (B = 0), with A ~ kaiming-uniform(a = √5) as in PEFT.
 *
 * Adapters are kept out of the module tree on purpose: `namedParameters()` lists the base model
 * only (what a Hugging Face checkpoint holds); `adapterParameters(name)` lists an adapter.
 */
export interface LoraConfig {
  r: number;
  alpha: number;
  /** Dropout on the adapter's input, in training mode only. */
  dropout: number;
}

export const DEFAULT_LORA: LoraConfig = { r: 16, alpha: 32, dropout: 0.1 };

export class LoraAdapter {
  constructor(
    readonly A: Parameter,
    readonly B: Parameter,
    readonly config: LoraConfig,
  ) {}
  get scale(): number {
    return this.config.alpha / this.config.r;
  }
}

export class LoraLinear extends Module {
  /** [out, in], frozen. */
  readonly weight: Parameter;
  private readonly adapters = new Map<string, LoraAdapter>();
  /** Inference's merged weights W + scale·B·A (see `forward`), per adapter, with the W, A and B storages they were made from. */
  private readonly merged = new Map<string, { from: readonly Storage[]; weight: Tensor }>();
  /** Where this layer sits in the model (for error messages and PEFT key names). */
  path = '';

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    /**
     * `weightDtype` (default `dtype`) may be 16-bit: W stays 2 bytes per parameter and the adapters
     * are float32. `initialize: false` leaves W undefined (engine `empty`) instead of drawing it (it is about to be loaded).
     */
    options: { rng?: Generator; backend?: Backend; dtype?: DType; weightDtype?: DType; initialize?: boolean } = {},
  ) {
    super();
    const init = { generator: options.rng, backend: options.backend, dtype: options.weightDtype ?? options.dtype };
    const shape = [outFeatures, inFeatures];
    this.weight = Parameter.adopt(options.initialize === false ? empty(shape, init) : kaimingUniform(shape, init), { requiresGrad: false });
  }

  /** The dtype the adapters train in: W's, or float32 when W is stored 16-bit. */
  private get adapterDtype(): DType {
    return isHalf(this.weight.dtype) ? 'float32' : this.weight.dtype;
  }

  /** Adds a fresh adapter (identity at start). */
  addAdapter(name: string, config: LoraConfig, rng?: Generator): LoraAdapter {
    if (this.adapters.has(name)) throw new Error(`LoRA adapter '${name}' already exists on ${this.path || 'this layer'}`);
    const opts = { backend: this.weight.backend, dtype: this.adapterDtype };
    const adapter = new LoraAdapter(
      Parameter.adopt(kaimingUniform([config.r, this.inFeatures], { ...opts, generator: rng, a: Math.sqrt(5) })),
      Parameter.adopt(zeros([this.outFeatures, config.r], opts)),
      { ...config },
    );
    this.adapters.set(name, adapter);
    return adapter;
  }

  /** Sets an adapter from given tensors (loading); A [r, in], B [out, r]. */
  setAdapter(name: string, config: LoraConfig, A: Tensor, B: Tensor): LoraAdapter {
    const where = `${this.path || 'LoraLinear'}: adapter '${name}'`;
    if (A.shape.join() !== `${config.r},${this.inFeatures}`)
      throw new Error(`${where}: lora_A must have shape [${config.r}, ${this.inFeatures}], got [${A.shape.join(', ')}]`);
    if (B.shape.join() !== `${this.outFeatures},${config.r}`)
      throw new Error(`${where}: lora_B must have shape [${this.outFeatures}, ${config.r}], got [${B.shape.join(', ')}]`);
    // Wrap the new values before freeing the old ones: A or B may be the current adapter's own
    // parameter (replacing only B, say), which must not be disposed before it is wrapped.
    const wrap = (t: Tensor): Parameter => {
      const cast = noGrad(() => t.cast(this.adapterDtype));
      const p = new Parameter(cast);
      if (cast !== t) cast.dispose(); // the parameter holds its own reference to the storage
      return p;
    };
    const adapter = new LoraAdapter(wrap(A), wrap(B), { ...config });
    const previous = this.adapters.get(name);
    previous?.A.dispose();
    previous?.B.dispose();
    this.adapters.set(name, adapter);
    return adapter;
  }

  /** A new adapter `to` with a copy of `from`'s values (e.g. the query reasoner from the compressor). */
  copyAdapter(from: string, to: string): void {
    const source = this.adapter(from);
    if (this.adapters.has(to)) throw new Error(`LoRA adapter '${to}' already exists on ${this.path || 'this layer'}`);
    // A copy must not share storage: the optimiser replaces storage, it never writes into it, but an
    // explicit copy keeps the two adapters independent whatever happens to either.
    const copy = (p: Parameter) => Parameter.adopt(noGrad(() => p.mul(1)));
    this.adapters.set(to, new LoraAdapter(copy(source.A), copy(source.B), { ...source.config }));
  }

  deleteAdapter(name: string): void {
    const adapter = this.adapter(name);
    adapter.A.dispose();
    adapter.B.dispose();
    this.adapters.delete(name);
    this.merged.get(name)?.weight.dispose();
    this.merged.delete(name);
  }

  adapter(name: string): LoraAdapter {
    const adapter = this.adapters.get(name);
    if (adapter === undefined) {
      throw new Error(`LoRA adapter '${name}' does not exist on ${this.path || 'this layer'} (it has: ${[...this.adapters.keys()].join(', ') || 'none'})`);
    }
    return adapter;
  }

  adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  /** W ← W + (alpha/r)·B·A and the adapter removed: faster inference, the same outputs. */
  mergeAdapter(name: string): void {
    const merged = this.mergedWeight(this.adapter(name));
    this.weight.assign(merged);
    this.deleteAdapter(name);
  }

  /** W + scale·B·A [out, in]. */
  private mergedWeight(a: LoraAdapter): Tensor {
    return noGrad(() => this.weight.add(a.B.matmul(a.A).mul(a.scale)));
  }

  /**
   * Whether a forward without gradients uses the merged weight: one product instead of three
   * (x·Wᵀ, x·Aᵀ and its product with B), for a decoding step a third of the dispatches. It costs a
   * float32 copy of W per adapter, kept while W, A and B stay the same, so only for float32
   * weights up to this many elements (the demo's and the tests' models; not a 7B's 4096 × 14336).
   */
  static readonly MERGE_MAX_ELEMENTS = 1 << 22;

  /**
   * x [..., in] → [..., out], with adapter `active` (or none); plus `residual` [..., out] when given,
   * added in the first product's store (a residual stream's add, one kernel fewer).
   */
  forward(x: Tensor, active: string | null, rng?: Generator, residual?: Tensor): Tensor {
    const product = (w: Tensor) => {
      if (residual === undefined) return x.matmul(w, { transB: true });
      return w.dtype === x.dtype ? matmulAddScaled(residual, x, w, 1) : residual.add(x.matmul(w, { transB: true }));
    };
    if (active !== null && !isGradEnabled()) {
      const merged = this.cachedMerge(active);
      if (merged !== null) return product(merged);
    }
    const base = product(this.weight);
    if (active === null) return base;
    const a = this.adapter(active);
    const dropped = dropout(x, a.config.dropout, { training: this.training, generator: rng });
    // base + scale·(dropped·Aᵀ)·Bᵀ, the last product, scale and sum in one kernel where fused.
    return matmulAddScaled(base, dropped.matmul(a.A, { transB: true }), a.B, a.scale);
  }

  /** Adapter `name`'s merged weight for inference, made again when W, A or B changed; null where not worth it (MERGE_MAX_ELEMENTS, dropout). */
  private cachedMerge(name: string): Tensor | null {
    const a = this.adapter(name);
    if (this.weight.dtype !== 'float32' || this.weight.size > LoraLinear.MERGE_MAX_ELEMENTS || (this.training && a.config.dropout > 0)) return null;
    // Parameters change only by taking new storage (Parameter.assign), so the storages say whether
    // the merged weight is still W + scale·B·A.
    const from = [this.weight, a.A, a.B].map((p) => p.storage('LoraLinear.forward'));
    const cached = this.merged.get(name);
    if (cached?.from.every((s, i) => s === from[i])) return cached.weight;
    cached?.weight.dispose();
    const weight = keep(this.mergedWeight(a));
    this.merged.set(name, { from, weight });
    return weight;
  }
}
