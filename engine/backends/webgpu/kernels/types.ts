import { isHalf, type DType } from '../../../dtype.ts';

/** The WGSL storage type of each dtype the backend holds (bools are u32 0/1). */
export function wgslType(dtype: DType): 'f32' | 'i32' | 'u32' {
  switch (dtype) {
    case 'float32':
      return 'f32';
    case 'int32':
      return 'i32';
    case 'bool':
      return 'u32';
    case 'float64':
      throw new Error('webgpu: float64 is not supported on the WebGPU backend');
    case 'bfloat16':
    case 'float16':
      // Packed two per u32 word: only the kernels that unpack them (matmul's B, gather) read them.
      throw new Error(`webgpu: ${dtype} is storage only here (matmul's second operand, gather's table); cast to float32 first`);
  }
}

/** The type arithmetic runs in: floats in f32, ints and bools in i32. */
export function computeType(dtype: DType): 'f32' | 'i32' {
  return dtype === 'float32' ? 'f32' : 'i32';
}

/** The smallest value of a WGSL type, as WGSL code (f32's needs shaders/math.wgsl: no -inf literal). */
export function lowest(type: 'f32' | 'i32' | 'u32'): string {
  switch (type) {
    case 'f32':
      return 'neg_inf_f32()';
    case 'i32':
      return 'bitcast<i32>(0x80000000u)';
    case 'u32':
      return '0u';
  }
}

/**
 * The defines that make a kernel read operand `flag` as 16-bit words (shaders/half.wgsl): the flag
 * and the format. None for a float32 operand, so its kernels are the ones they always were.
 */
export function halfDefines(flag: string, dtype: DType): Record<string, boolean> {
  return isHalf(dtype) ? { [flag]: true, HALF_BF16: dtype === 'bfloat16', HALF_F16: dtype === 'float16' } : {};
}
