import { describe, expect, it } from 'vitest';
import { Generator, tensor, tidy, zeros, type Tensor } from '../../../engine/index.ts';
import { Embedding, Linear, Module, Parameter, RMSNorm } from '../../../engine/nn/index.ts';
import { values } from './gradcheck.ts';

/** A miniature of the HF Mistral layout, to check that names come out as in its state dict. */
class Attention extends Module {
  readonly qProj: Linear;
  readonly oProj: Linear;
  constructor(g: Generator) {
    super();
    this.qProj = this.registerModule('q_proj', new Linear(4, 4, { bias: false, generator: g }));
    this.oProj = this.registerModule('o_proj', new Linear(4, 4, { bias: false, generator: g }));
  }
}

class Block extends Module {
  readonly selfAttn: Attention;
  readonly inputLayernorm: RMSNorm;
  constructor(g: Generator) {
    super();
    this.selfAttn = this.registerModule('self_attn', new Attention(g));
    this.inputLayernorm = this.registerModule('input_layernorm', new RMSNorm(4));
  }
}

class Tiny extends Module {
  readonly embedTokens: Embedding;
  readonly layers: Block[];
  readonly norm: RMSNorm;
  constructor(seed = 0) {
    super();
    const g = new Generator(seed);
    this.embedTokens = this.registerModule('embed_tokens', new Embedding(10, 4, { generator: g }));
    this.layers = this.registerModule('layers', [new Block(g), new Block(g)]);
    this.norm = new RMSNorm(4); // picked up by its field name
  }
}

const NAMES = [
  'embed_tokens.weight',
  'layers.0.self_attn.q_proj.weight',
  'layers.0.self_attn.o_proj.weight',
  'layers.0.input_layernorm.weight',
  'layers.1.self_attn.q_proj.weight',
  'layers.1.self_attn.o_proj.weight',
  'layers.1.input_layernorm.weight',
  'norm.weight',
];

describe('Module', () => {
  it('names parameters by their dotted path, PyTorch style', () => {
    const m = new Tiny();
    expect(m.namedParameters().map(([n]) => n)).toEqual(NAMES);
    expect(m.parameters()).toHaveLength(NAMES.length);
    expect(m.namedModules().map(([n]) => n)).toEqual([
      '',
      'embed_tokens',
      'layers.0',
      'layers.0.self_attn',
      'layers.0.self_attn.q_proj',
      'layers.0.self_attn.o_proj',
      'layers.0.input_layernorm',
      'layers.1',
      'layers.1.self_attn',
      'layers.1.self_attn.q_proj',
      'layers.1.self_attn.o_proj',
      'layers.1.input_layernorm',
      'norm',
    ]);
    expect(Object.keys(m.stateDict())).toEqual(NAMES);
    const linear = new Linear(3, 2);
    expect(linear.namedParameters().map(([n]) => n)).toEqual(['weight', 'bias']);
    expect(new Linear(3, 2, { bias: false }).namedParameters().map(([n]) => n)).toEqual(['weight']);
  });

  it('lists a shared parameter once, but names it under every path in the state dict', () => {
    class Tied extends Module {
      readonly a = new Linear(2, 2, { bias: false });
      readonly b = new Linear(2, 2, { bias: false });
      readonly extra: Parameter;
      constructor() {
        super();
        this.extra = this.registerParameter('scale', new Parameter(zeros([1])));
        (this.b as { weight: Parameter }).weight = this.a.weight;
      }
    }
    const m = new Tied();
    expect(m.namedParameters().map(([n]) => n)).toEqual(['scale', 'a.weight']);
    expect(Object.keys(m.stateDict())).toEqual(['scale', 'a.weight', 'b.weight']);
  });

  it('state dict round trip: a second model loads the first one exactly', async () => {
    const a = new Tiny(1);
    const b = new Tiny(2);
    expect(await values(a.layers[1]!.selfAttn.qProj.weight)).not.toEqual(await values(b.layers[1]!.selfAttn.qProj.weight));
    const state = tidy(() => a.stateDict()); // a plain object, so tidy keeps its tensors
    const result = b.loadStateDict(state);
    expect(result).toEqual({ missingKeys: [], unexpectedKeys: [] });
    for (const [name, p] of b.namedParameters()) expect(await values(p), name).toEqual(await values(state[name]!));
    // Same forward on the same input.
    const ids = tensor(Int32Array.from([1, 2, 3]), [1, 3]);
    const run = (m: Tiny): Tensor => m.norm.forward(m.layers[0]!.selfAttn.qProj.forward(m.embedTokens.forward(ids)));
    expect(await values(run(b))).toEqual(await values(run(a)));
    // The snapshot is not affected by later updates of the source model.
    const before = await values(state['norm.weight']!);
    a.norm.weight.assign(a.norm.weight.mul(3));
    expect(await values(state['norm.weight']!)).toEqual(before);
    // Maps work too.
    b.loadStateDict(new Map(Object.entries(a.stateDict())));
    expect(await values(b.norm.weight)).toEqual([3, 3, 3, 3]);
  });

  it('loadStateDict: a shape mismatch names the key and both shapes, and changes nothing', async () => {
    const m = new Linear(3, 2);
    const before = await values(m.bias!);
    expect(() => m.loadStateDict({ weight: zeros([3, 2]), bias: zeros([2]) })).toThrow(
      'Error(s) in loading state_dict for Linear:\n\tsize mismatch for weight: copying a param with shape [3, 2] from checkpoint, the shape in current model is [2, 3].',
    );
    expect(await values(m.bias!)).toEqual(before);
  });

  it('loadStateDict: missing and unexpected keys', () => {
    const m = new Linear(3, 2);
    expect(() => m.loadStateDict({ weight: zeros([2, 3]), bais: zeros([2]) })).toThrow(
      'Error(s) in loading state_dict for Linear:\n\tMissing key(s) in state_dict: "bias".\n\tUnexpected key(s) in state_dict: "bais".',
    );
    expect(m.loadStateDict({ weight: zeros([2, 3]), bais: zeros([2]) }, { strict: false })).toEqual({ missingKeys: ['bias'], unexpectedKeys: ['bais'] });
    expect(() => m.loadStateDict({ weight: zeros([2, 3]), bias: zeros([3]) }, { strict: false })).toThrow(
      'size mismatch for bias: copying a param with shape [3] from checkpoint, the shape in current model is [2].',
    );
  });

  it('loadStateDict casts float64 to the parameter dtype and rejects int tensors', async () => {
    const m = new RMSNorm(2);
    m.loadStateDict({ weight: tensor(Float64Array.from([0.5, 2])) });
    expect(m.weight.dtype).toBe('float32');
    expect(await values(m.weight)).toEqual([0.5, 2]);
    expect(() => m.loadStateDict({ weight: tensor(Int32Array.from([1, 2])) })).toThrow(/dtype mismatch for weight: cannot load a int32 tensor/);
  });

  it('train/eval propagate to every submodule', () => {
    const m = new Tiny();
    m.eval();
    expect(m.namedModules().every(([, sub]) => !sub.training)).toBe(true);
    m.train();
    expect(m.namedModules().every(([, sub]) => sub.training)).toBe(true);
  });

  it('requiresGrad_(false) freezes a whole subtree', () => {
    const m = new Tiny();
    m.requiresGrad_(false);
    m.layers[1]!.requiresGrad_(true);
    const trainable = m
      .namedParameters()
      .filter(([, p]) => p.requiresGrad)
      .map(([n]) => n);
    expect(trainable).toEqual(NAMES.filter((n) => n.startsWith('layers.1.')));
    const ids = tensor(Int32Array.from([1, 2]));
    m.layers[1]!.selfAttn.qProj.forward(m.layers[0]!.selfAttn.qProj.forward(m.embedTokens.forward(ids)))
      .sum()
      .backward();
    expect(m.layers[1]!.selfAttn.qProj.weight.grad).not.toBeNull();
    expect(m.layers[0]!.selfAttn.qProj.weight.grad).toBeNull();
    expect(m.embedTokens.weight.grad).toBeNull();
    m.zeroGrad();
    expect(m.layers[1]!.selfAttn.qProj.weight.grad).toBeNull();
  });

  it('rejects member names with dots', () => {
    const m = new Module();
    expect(() => m.registerModule('a.b', new Linear(1, 1))).toThrow(/contain no "."/);
  });
});
