/**
 * A restricted unpickler: the Python pickle opcodes `torch.save` writes (protocol 2), and nothing
 * that could run code.
 *
 * A pickle is a program for a small stack machine; ordinary unpicklers import any module the
 * program names (GLOBAL) and call it (REDUCE), which is why loading an untrusted `.pth` with
 * `torch.load(weights_only=False)` can run anything. Here a GLOBAL is only a name: the caller's
 * allow-list turns it into a value, or the load stops with an error that names it; REDUCE, BUILD and
 * persistent ids go to the caller too. Every other opcode (INST, OBJ, NEWOBJ, EXT1, the protocol-4
 * framing, …) is refused by name.
 *
 * Values: null, booleans, numbers (integers past 2^53 as bigint), strings, lists (arrays), tuples
 * (`PickleTuple`), dicts (`Map`, with string or number keys), and whatever the caller's hooks return.
 */
import { TorchSaveError } from './torchSaveError.ts';

export class PickleTuple {
  constructor(readonly items: readonly unknown[]) {}
}

export interface UnpickleHooks {
  /** The value for `module.name`, or undefined to refuse it. */
  global(module: string, name: string): unknown;
  /** REDUCE: apply the callable (a value `global` returned) to the arguments. */
  reduce(callable: unknown, args: readonly unknown[]): unknown;
  /** BINPERSID: the object a persistent id stands for (torch: a storage). */
  persistentLoad(pid: unknown): unknown;
}

/** Opcode byte → name, for every opcode of protocols 0–5, so a refusal can say which one it was. */
const OPCODE_NAMES = new Map<number, string>([
  [0x28, 'MARK'],
  [0x2e, 'STOP'],
  [0x30, 'POP'],
  [0x31, 'POP_MARK'],
  [0x32, 'DUP'],
  [0x46, 'FLOAT'],
  [0x49, 'INT'],
  [0x4a, 'BININT'],
  [0x4b, 'BININT1'],
  [0x4c, 'LONG'],
  [0x4d, 'BININT2'],
  [0x4e, 'NONE'],
  [0x50, 'PERSID'],
  [0x51, 'BINPERSID'],
  [0x52, 'REDUCE'],
  [0x53, 'STRING'],
  [0x54, 'BINSTRING'],
  [0x55, 'SHORT_BINSTRING'],
  [0x56, 'UNICODE'],
  [0x58, 'BINUNICODE'],
  [0x61, 'APPEND'],
  [0x62, 'BUILD'],
  [0x63, 'GLOBAL'],
  [0x64, 'DICT'],
  [0x7d, 'EMPTY_DICT'],
  [0x65, 'APPENDS'],
  [0x67, 'GET'],
  [0x68, 'BINGET'],
  [0x69, 'INST'],
  [0x6a, 'LONG_BINGET'],
  [0x6c, 'LIST'],
  [0x5d, 'EMPTY_LIST'],
  [0x6f, 'OBJ'],
  [0x70, 'PUT'],
  [0x71, 'BINPUT'],
  [0x72, 'LONG_BINPUT'],
  [0x73, 'SETITEM'],
  [0x74, 'TUPLE'],
  [0x29, 'EMPTY_TUPLE'],
  [0x75, 'SETITEMS'],
  [0x47, 'BINFLOAT'],
  [0x80, 'PROTO'],
  [0x81, 'NEWOBJ'],
  [0x82, 'EXT1'],
  [0x83, 'EXT2'],
  [0x84, 'EXT4'],
  [0x85, 'TUPLE1'],
  [0x86, 'TUPLE2'],
  [0x87, 'TUPLE3'],
  [0x88, 'NEWTRUE'],
  [0x89, 'NEWFALSE'],
  [0x8a, 'LONG1'],
  [0x8b, 'LONG4'],
  [0x42, 'BINBYTES'],
  [0x43, 'SHORT_BINBYTES'],
  [0x8c, 'SHORT_BINUNICODE'],
  [0x8d, 'BINUNICODE8'],
  [0x8e, 'BINBYTES8'],
  [0x8f, 'EMPTY_SET'],
  [0x90, 'ADDITEMS'],
  [0x91, 'FROZENSET'],
  [0x92, 'NEWOBJ_EX'],
  [0x93, 'STACK_GLOBAL'],
  [0x94, 'MEMOIZE'],
  [0x95, 'FRAME'],
  [0x96, 'BYTEARRAY8'],
  [0x97, 'NEXT_BUFFER'],
  [0x98, 'READONLY_BUFFER'],
]);

/** MARK's place on the stack: a unique object no pickled value can be. */
const MARK = Symbol('mark');

export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, file: string): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const memo = new Map<number, unknown>();
  let at = 0;

  const fail = (message: string): TorchSaveError => new TorchSaveError('PICKLE_CORRUPT', file, `data.pkl at byte ${at}: ${message}`);
  const need = (n: number): number => {
    if (at + n > bytes.length) throw fail('truncated');
    const start = at;
    at += n;
    return start;
  };
  const pop = (): unknown => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) throw fail('stack underflow');
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0 || stack[stack.length - 1] === MARK) throw fail('stack underflow');
    return stack[stack.length - 1];
  };
  /** Everything above the last MARK, which is removed. */
  const popToMark = (): unknown[] => {
    const mark = stack.lastIndexOf(MARK);
    if (mark < 0) throw fail('no MARK on the stack');
    const items = stack.slice(mark + 1);
    stack.length = mark;
    return items;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, at);
    if (end < 0) throw fail('truncated GLOBAL');
    const text = new TextDecoder('latin1').decode(bytes.subarray(at, end));
    at = end + 1;
    return text;
  };
  const text = (length: number): string => {
    const start = need(length);
    try {
      return decoder.decode(bytes.subarray(start, start + length));
    } catch {
      throw fail('a string is not UTF-8');
    }
  };
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (!(dict instanceof Map)) throw fail('SETITEM(S) on something that is not a dict');
    if (items.length % 2 !== 0) throw fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      if (typeof key !== 'string' && typeof key !== 'number') throw fail('a dict key that is neither a string nor a number');
      dict.set(key, items[i + 1]);
    }
  };
  const append = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list)) throw fail('APPEND(S) on something that is not a list');
    list.push(...items);
  };

  for (;;) {
    const op = bytes[need(1)]!;
    switch (op) {
      case 0x80: // PROTO
        if (bytes[need(1)]! > 5) throw fail('unknown pickle protocol');
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) throw fail(`STOP with ${stack.length} values on the stack, not 1`);
        if (at !== bytes.length) throw fail('bytes after STOP');
        return pop();
      case 0x28: // MARK
        stack.push(MARK);
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PickleTuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(new PickleTuple(popToMark()));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const items = Array.from({ length: op - 0x84 }, pop).reverse();
        stack.push(new PickleTuple(items));
        break;
      }
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        stack.push(bytes[need(1)]!);
        break;
      case 0x4d: // BININT2
        stack.push(view.getUint16(need(2), true));
        break;
      case 0x8a: {
        // LONG1: a little-endian two's-complement integer of n bytes
        const n = bytes[need(1)]!;
        const start = need(n);
        let value = 0n;
        for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[start + i]!);
        if (n > 0 && bytes[start + n - 1]! & 0x80) value -= 1n << BigInt(8 * n);
        stack.push(value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(view.getUint32(need(4), true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(bytes[need(1)]!));
        break;
      case 0x71: // BINPUT
        memo.set(bytes[need(1)]!, top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(view.getUint32(need(4), true), top());
        break;
      case 0x68: // BINGET
      case 0x6a: {
        // LONG_BINGET
        const key = op === 0x68 ? bytes[need(1)]! : view.getUint32(need(4), true);
        if (!memo.has(key)) throw fail(`memo entry ${key} was never stored`);
        stack.push(memo.get(key));
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popToMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const item = pop();
        append(top(), [item]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popToMark();
        append(top(), items);
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n": only what the allow-list names becomes a value
        const module = line();
        const name = line();
        const value = hooks.global(module, name);
        if (value === undefined)
          throw new TorchSaveError('GLOBAL_REFUSED', file, `data.pkl names the global ${module}.${name}, which is not on the allow-list`);
        stack.push(value);
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        if (!(args instanceof PickleTuple)) throw fail('REDUCE without an argument tuple');
        stack.push(hooks.reduce(callable, args.items));
        break;
      }
      case 0x62: {
        // BUILD: only the attribute dict of a dict subclass (a state_dict's `_metadata`), which is dropped
        const state = pop();
        if (!(top() instanceof Map) || !(state instanceof Map || state === null))
          throw new TorchSaveError('OPCODE_REFUSED', file, 'BUILD on anything but a dict is not run');
        break;
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;
      default:
        throw new TorchSaveError(
          'OPCODE_REFUSED',
          file,
          `data.pkl at byte ${at - 1}: the opcode ${OPCODE_NAMES.get(op) ?? `0x${op.toString(16)}`} is not run by this reader`,
        );
    }
  }
}

/** The pieces of a pickle, for the writer: protocol 2, no memo, the same opcodes the reader runs. */
export class PickleWriter {
  private readonly parts: number[] = [0x80, 2];
  private readonly encoder = new TextEncoder();

  private bytes(values: ArrayLike<number>): void {
    for (let i = 0; i < values.length; i++) this.parts.push(values[i]!);
  }

  private u32(value: number): void {
    this.bytes([value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff]);
  }

  mark(): this {
    this.parts.push(0x28);
    return this;
  }
  emptyDict(): this {
    this.parts.push(0x7d);
    return this;
  }
  setItems(): this {
    this.parts.push(0x75);
    return this;
  }
  tuple(): this {
    this.parts.push(0x74);
    return this;
  }
  emptyTuple(): this {
    this.parts.push(0x29);
    return this;
  }
  bool(value: boolean): this {
    this.parts.push(value ? 0x88 : 0x89);
    return this;
  }
  reduce(): this {
    this.parts.push(0x52);
    return this;
  }
  persistentId(): this {
    this.parts.push(0x51);
    return this;
  }
  global(module: string, name: string): this {
    this.parts.push(0x63);
    this.bytes(this.encoder.encode(`${module}\n${name}\n`));
    return this;
  }
  string(value: string): this {
    const encoded = this.encoder.encode(value);
    this.parts.push(0x58);
    this.u32(encoded.length);
    this.bytes(encoded);
    return this;
  }
  /** A non-negative integer: BININT while it fits 31 bits, else LONG1. */
  int(value: number): this {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`PickleWriter.int: ${value} is not a non-negative safe integer`);
    if (value < 2 ** 31) {
      this.parts.push(0x4a);
      this.u32(value);
      return this;
    }
    const digits: number[] = [];
    for (let v = BigInt(value); v > 0n; v >>= 8n) digits.push(Number(v & 0xffn));
    if (digits[digits.length - 1]! & 0x80) digits.push(0);
    this.parts.push(0x8a, digits.length);
    this.bytes(digits);
    return this;
  }
  stop(): Uint8Array {
    this.parts.push(0x2e);
    return Uint8Array.from(this.parts);
  }
}
