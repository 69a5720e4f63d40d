/**
 * Builds safetensors bytes by hand, header text and all, so tests can write files that the real
 * writer would never produce.
 */
export function rawFile(header: string | object, data: Uint8Array | number = 0, headerLength?: bigint): Uint8Array {
  const text = typeof header === 'string' ? header : JSON.stringify(header);
  const json = new TextEncoder().encode(text);
  const body = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + json.length + body.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(body, 8 + json.length);
  return out;
}

/** A valid two-tensor file: a [2, 3] F32 and a [4] I8, 28 bytes of data. */
export function validHeader(): Record<string, unknown> {
  return {
    __metadata__: { format: 'pt' },
    a: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] },
    b: { dtype: 'I8', shape: [4], data_offsets: [24, 28] },
  };
}
