import { describe, expect, it } from 'vitest';
import { concat, crossEntropy, dropout, empty, kaimingUniform, oneHot, ones, stack, tensor, topk, where, zeros } from '../../engine/index.ts';
import { CpuBackend } from '../../engine/backends/cpu/index.ts';

/**
 * Every shape and dtype check throws an error that names the op and the shapes involved
 * (PyTorch's wording where it has one).
 */

const i32 = (values: number[], shape = [values.length]) => tensor(values, shape, { dtype: 'int32' });

const CASES: Array<[string, () => unknown, string | RegExp]> = [
  [
    'broadcast mismatch',
    () => ones([2, 3]).add(ones([2, 4])),
    'add: The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1 (shapes [2, 3] and [2, 4])',
  ],
  ['where broadcast mismatch', () => where(ones([3]).gt(0), ones([3]), ones([2])), 'where: The size of tensor a (3) must match the size of tensor b (2)'],
  ['where condition dtype', () => where(ones([3]), ones([3]), ones([3])), 'where: expected condition to be a bool tensor, but got float32'],
  ['dtype mismatch', () => ones([2]).mul(ones([2], { dtype: 'float64' })), 'mul: expected both tensors to have the same dtype, but got float32 and float64'],
  ['backend mismatch', () => ones([2]).add(ones([2], { backend: new CpuBackend() })), 'add: Expected all tensors to be on the same backend'],
  ['float-only op on ints', () => i32([1, 2]).exp(), 'exp: not implemented for int32 tensors'],
  [
    'arithmetic on bool',
    () =>
      ones([2])
        .gt(0)
        .add(ones([2]).gt(0)),
    'add: not implemented for bool tensors',
  ],
  ['matmul inner sizes', () => ones([2, 3]).matmul(ones([4, 5])), 'matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5) (shapes [2, 3] and [4, 5])'],
  ['matmul transposed sizes', () => ones([2, 3]).matmul(ones([4, 5]), { transB: true }), 'matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 5x4)'],
  [
    'matmul batch broadcast',
    () => ones([2, 2, 3]).matmul(ones([3, 3, 4])),
    'matmul: The size of tensor a (2) must match the size of tensor b (3) at non-singleton dimension 0',
  ],
  ['matmul scalar', () => ones([]).matmul(ones([2])), 'matmul: both arguments to matmul need to be at least 1D, but they are 0D and 1D'],
  ['reshape size', () => ones([2, 3]).reshape([4, 2]), "reshape: shape '[4, 2]' is invalid for input of size 6"],
  ['reshape two -1', () => ones([2, 3]).reshape([-1, -1]), "reshape: shape '[-1, -1]' is invalid for input of size 6"],
  ['axis out of range', () => ones([2, 3]).sum(2), 'sum: Dimension out of range (expected to be in range of [-2, 1], but got 2)'],
  ['repeated axes', () => ones([2, 3]).sum([1, -1]), 'sum: dim 1 appears multiple times in the list of dims'],
  ['max over empty axis', () => ones([0, 3]).max(0), 'max: Expected reduction dim 0 to have non-zero size'],
  ['mean of ints', () => i32([1, 2]).mean(), 'mean: could not infer output dtype'],
  [
    'permute length',
    () => ones([2, 3]).permute([0]),
    'permute: number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = 2 is not equal to len(dims) = 1',
  ],
  ['permute repeated', () => ones([2, 3]).permute([1, 1]), 'permute: repeated dim in [1, 1]'],
  [
    'expand too few sizes',
    () => ones([2, 3]).expand([3]),
    'expand: the number of sizes provided (1) must be greater or equal to the number of dimensions in the tensor (2)',
  ],
  [
    'expand non-singleton',
    () => ones([2, 3]).expand([2, 4]),
    'expand: The expanded size of the tensor (4) must match the existing size (3) at non-singleton dimension 1.  Target sizes: [2, 4].  Tensor sizes: [2, 3]',
  ],
  [
    'split sizes',
    () => ones([5]).split([2, 2]),
    "split: split_with_sizes expects split_sizes to sum exactly to 5 (input tensor's size at dimension 0), but got split_sizes=[2, 2]",
  ],
  ['pad pairs', () => ones([2, 3]).pad([[1, 1]]), 'pad: expected one [before, after] pair per dimension (2), got 1'],
  ['pad negative', () => ones([2]).pad([[-1, 0]]), 'pad: padding sizes must be non-negative integers'],
  [
    'concat sizes',
    () => concat([ones([2, 3]), ones([2, 4])], 0),
    'concat: Sizes of tensors must match except in dimension 0. Expected [2, 3] but got [2, 4] for tensor number 1 in the list',
  ],
  ['concat empty', () => concat([], 0), 'concat: expected a non-empty list of Tensors'],
  ['stack unequal', () => stack([ones([2]), ones([3])]), 'stack: expects each tensor to be equal size, but got [2] at entry 0 and [3] at entry 1'],
  [
    'gather index rank',
    () => ones([2, 3]).gather(0, i32([0])),
    'gather: Index tensor must have the same number of dimensions as input tensor (index [1], input [2, 3])',
  ],
  ['gather index dtype', () => ones([2, 3]).gather(0, ones([1, 3])), 'gather: Expected dtype int32 for index, got float32'],
  [
    'gather index too wide',
    () => ones([2, 3]).gather(0, i32([0, 0, 0, 0], [1, 4])),
    'gather: Size does not match at dimension 1 expected index [1, 4] to be smaller than self [2, 3] apart from dimension 0',
  ],
  ['gather index out of range', () => ones([2, 3]).gather(0, i32([0, 5, 0], [1, 3])), 'gather: index 5 is out of bounds for dimension 0 with size 2'],
  [
    'scatterAdd src shape',
    () => zeros([2, 3]).scatterAdd(0, i32([0, 1, 0], [1, 3]), ones([2, 3])),
    'scatterAdd: src [2, 3] must have the shape of index [1, 3]',
  ],
  ['indexSelect index rank', () => ones([2, 3]).indexSelect(0, i32([0, 1], [1, 2])), 'indexSelect: Index is supposed to be a vector, got shape [1, 2]'],
  ['oneHot dtype', () => oneHot(ones([2]), 3), 'oneHot: one_hot is only applicable to index tensor (int32), got float32'],
  ['topk k', () => topk(ones([2, 3]), 4), 'topk: selected index k out of range (k=4, size 3)'],
  [
    'crossEntropy target shape',
    () => crossEntropy(ones([2, 3]), i32([0, 1, 2])),
    'crossEntropy: Expected target of shape [2] for input of shape [2, 3], got [3]',
  ],
  ['crossEntropy target dtype', () => crossEntropy(ones([2, 3]), ones([2])), 'crossEntropy: expected int32 targets, got float32'],
  ['tensor data length', () => tensor([1, 2, 3], [2, 2]), 'tensor: shape [2, 2] needs 4 values, got 3'],
  ['negative shape', () => zeros([2, -1]), 'full: invalid shape [2, -1]: sizes must be non-negative integers'],
  ['empty: negative shape', () => empty([1.5, 2]), 'empty: invalid shape [1.5, 2]: sizes must be non-negative integers'],
  ['kaiming fan-in', () => kaimingUniform([3]), 'kaimingUniform: Fan in can not be computed for tensor with fewer than 2 dimensions (shape [3])'],
  ['grad on ints', () => tensor([1], [1], { dtype: 'int32', requiresGrad: true }), 'only floating point tensors can require gradients (got int32)'],
  ['dropout p', () => dropout(ones([2]), 1.5, { training: true }), 'dropout: dropout probability has to be between 0 and 1, but got 1.5'],
];

describe('error messages', () => {
  for (const [name, f, message] of CASES) {
    it(name, () => {
      expect(f).toThrow(message);
    });
  }
});
