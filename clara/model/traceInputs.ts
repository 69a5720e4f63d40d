import type { DType, TypedArray } from '../../engine/index.ts';
import { readJsonFile, readSafetensorsFile, type HostTensor } from '../../engine/io/index.ts';

/**
 * The inputs of `clara trace`, from a safetensors file or a JSON file of the same names: a JSON
 * value is a (nested) array of numbers, integers for ids, masks and labels, floats for embeddings
 * (names ending in `embeds` are always floats);
 * its shape is the nesting. Either way the names are flat strings (`encoder.input_ids`), and a
 * safetensors file's metadata (a JSON file's top-level "metadata" object) carries settings such
 * as the adapter.
 *
 * A JSON file may give texts instead of ids: one example `{"question": …, "docs": […], "answer": …}`
 * or an array of them; the step modes tokenize them with the model's own tokenizer
 * (clara/traceTexts.ts), and `texts` holds them (empty when ids were given).
 */
export class TraceInputs {
  private constructor(
    readonly file: string,
    private readonly tensors: Map<string, HostTensor>,
    readonly metadata: Readonly<Record<string, string>>,
    readonly texts: readonly TraceText[] = [],
  ) {}

  static read(file: string): TraceInputs {
    if (file.endsWith('.json')) {
      const json = readJsonFile(file, 'the trace inputs');
      if (Array.isArray(json) || (typeof json === 'object' && json !== null && 'question' in json))
        return new TraceInputs(
          file,
          new Map(),
          {},
          (Array.isArray(json) ? json : [json]).map((example, i) => traceText(example, `${file}: example ${i}`)),
        );
      return TraceInputs.fromJson(file, json as Record<string, unknown>);
    }
    const st = readSafetensorsFile(file);
    return new TraceInputs(file, new Map(st.names().map((n) => [n, st.toHost(n)])), st.metadata);
  }

  /** Named (nested) arrays of numbers, and optionally "metadata", as the JSON file above holds them. */
  static fromJson(file: string, json: Record<string, unknown>): TraceInputs {
    const tensors = new Map<string, HostTensor>();
    const { metadata, ...values } = json;
    for (const [name, value] of Object.entries(values)) tensors.set(name, hostFromNested(value, `${file}: ${name}`));
    const meta = Object.fromEntries(Object.entries((metadata ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
    return new TraceInputs(file, tensors, meta);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** The tensor `name`, or undefined. */
  get(name: string): HostTensor | undefined {
    return this.tensors.get(name);
  }

  /** An integer [rows, width] tensor as host rows; `shape` checks the size where given. */
  rows(name: string, shape?: readonly [number, number]): number[][] {
    const t = this.tensors.get(name);
    if (t === undefined) throw new Error(`${this.file}: the inputs need '${name}'`);
    if (t.shape.length !== 2 || t.dtype === 'float32' || t.dtype === 'float64')
      throw new Error(`${this.file}: '${name}' must be an integer tensor [rows, width], got ${t.dtype} [${t.shape.join(', ')}]`);
    if (shape !== undefined && t.shape.join() !== shape.join())
      throw new Error(`${this.file}: '${name}' must be [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
    const [rows, width] = t.shape as [number, number];
    const flat = Array.from(t.data as ArrayLike<number>, Number);
    return Array.from({ length: rows }, (_, r) => flat.slice(r * width, (r + 1) * width));
  }
}

function hostFromNested(value: unknown, where: string): HostTensor {
  const shape: number[] = [];
  for (let v = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  const flat = (Array.isArray(value) ? value.flat(Number.POSITIVE_INFINITY) : [value]) as unknown[];
  if (!flat.every((x) => typeof x === 'number')) throw new Error(`${where}: expected a (nested) array of numbers`);
  const numbers = flat as number[];
  if (numbers.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`${where}: the nested arrays are ragged`);
  const integer = !where.endsWith('embeds') && numbers.every(Number.isInteger); // embeddings are floats whatever their values
  const dtype: DType = integer ? 'int32' : 'float32';
  const data: TypedArray = integer ? Int32Array.from(numbers) : Float32Array.from(numbers);
  return { dtype, shape, data };
}

/** One example given as texts: the question, its documents (k, or stage 3's N candidates) and the answer. */
export interface TraceText {
  question: string;
  docs: string[];
  answer: string;
}

function traceText(value: unknown, where: string): TraceText {
  const v = value as Partial<Record<keyof TraceText, unknown>> | null;
  const docs = v?.docs;
  if (typeof v?.question !== 'string' || typeof v.answer !== 'string' || !Array.isArray(docs) || docs.length === 0 || !docs.every((d) => typeof d === 'string'))
    throw new Error(`${where}: expected {"question": string, "docs": [string, …], "answer": string}`);
  return { question: v.question, docs: docs as string[], answer: v.answer };
}
