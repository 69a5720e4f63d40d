"""Op fixtures: for every engine op, many cases recorded from PyTorch into test/fixtures/ops/<op>.safetensors.

Each op has an entry in OPS: the torch function that defines it (taking the case's inputs and
attributes) and a generator of cases. Case generators draw shapes and attributes from a Python
`random.Random` and values from a `torch.Generator`, both seeded from the op's name, so every op's
fixture is reproducible and independent of the others (adding cases to one op changes no other file).

Conventions the replay test (test/engine/ops-fixtures.test.ts) relies on:
  - attribute names are the engine's (axis, axes, keepdim, transA, ...); an attribute `other` is a
    plain number standing in for the second operand;
  - axes may be negative, as in torch; `axes: null` means every axis;
  - integer tensors (indices, targets) are int64, as torch makes them; the engine reads them as int32.
"""
import math
import os
import random
import zlib

import torch
import torch.nn.functional as F

from case_recorder import Case, record_cases

HERE = os.path.dirname(os.path.abspath(__file__))
# Every file whose change changes what this recorder writes.
SOURCES = [os.path.join(HERE, f) for f in ("record_ops.py", "case_recorder.py", "safetensors_io.py")]

INF = math.inf
NAN = math.nan


class Draw:
    """Random shapes and values for one op's cases."""

    def __init__(self, name: str):
        seed = zlib.crc32(name.encode())
        self.r = random.Random(seed)
        self.g = torch.Generator().manual_seed(seed)

    # ---- shapes (kept small: a case's tensors stay under ~2000 elements) ----
    def shape(self, min_rank=1, max_rank=4, sizes=(1, 2, 3, 4, 5)) -> list:
        return [self.r.choice(sizes) for _ in range(self.r.randint(min_rank, max_rank))]

    def broadcast_partner(self, shape: list) -> list:
        """A shape that broadcasts with `shape`: leading dims dropped, some dims set to 1."""
        keep = self.r.randint(0, len(shape))
        partner = shape[len(shape) - keep:]
        return [1 if self.r.random() < 0.3 else d for d in partner]

    def broadcast_pair(self) -> tuple:
        a = self.shape(0, 4)
        b = self.broadcast_partner(a)
        # Sometimes also put 1s in `a` where `b` is bigger, so both operands broadcast.
        off = len(a) - len(b)
        for i in range(len(b)):
            if b[i] > 1 and self.r.random() < 0.3:
                a[off + i] = 1
        return (a, b) if self.r.random() < 0.5 else (b, a)

    def axis(self, rank: int) -> int:
        """A valid axis, negative a third of the time (torch accepts both)."""
        a = self.r.randrange(rank)
        return a - rank if self.r.random() < 0.33 else a

    def axes(self, rank: int):
        """None (all axes), one axis as an int, or a non-empty list of distinct axes."""
        u = self.r.random()
        if u < 0.15:
            return None
        if u < 0.45:
            return self.axis(rank)
        count = self.r.randint(1, rank)
        chosen = self.r.sample(range(rank), count)
        return [a - rank if self.r.random() < 0.33 else a for a in chosen]

    # ---- values ----
    def randn(self, shape, scale=1.0, dtype=torch.float32):
        return (torch.randn(shape, generator=self.g, dtype=torch.float64) * scale).to(dtype)

    def uniform(self, shape, lo, hi, dtype=torch.float32):
        return (torch.rand(shape, generator=self.g, dtype=torch.float64) * (hi - lo) + lo).to(dtype)

    def small_ints(self, shape, lo=-2, hi=2):
        """Floats drawn from a few integers, so that ties and equalities happen."""
        return torch.randint(lo, hi + 1, shape, generator=self.g).to(torch.float32)

    def randint(self, lo, hi, shape):
        """int64 in [lo, hi)."""
        return torch.randint(lo, hi, shape, generator=self.g)

    def bools(self, shape, p=0.5):
        return torch.rand(shape, generator=self.g) < p

    def distinct(self, shape):
        """Values with no ties (for topk): a random permutation, scaled, as float32."""
        n = math.prod(shape)
        return (torch.randperm(n, generator=self.g).to(torch.float32) * 0.37 - n * 0.1).reshape(shape)


def all_dims(x, axes):
    """torch wants a tuple of dims; the engine's `axes: null` means all of them."""
    if axes is None:
        return tuple(range(x.dim()))
    return (axes,) if isinstance(axes, int) else tuple(axes)


# ------------------------------------------------------------------------------------------------
# elementwise

def unary_cases(d: Draw, make, specials: list, float64=True) -> list:
    """Random shapes (rank 0 to 4, one long), then one case of special values."""
    cases = [Case([make(d.shape(0, 4))]) for _ in range(12)]
    cases.append(Case([make([1031])]))  # longer than a GPU workgroup, and not a multiple of one
    cases.append(Case([torch.tensor(specials, dtype=torch.float32)]))
    if float64:
        cases += [Case([make(d.shape(1, 3)).double()]) for _ in range(2)]
    return cases


def unary(fn, make, specials: list):
    return {"fn": lambda x, a: fn(x[0]), "cases": lambda d: unary_cases(d, lambda s: make(d, s), specials)}


def binary_cases(d: Draw, make_a, make_b, specials=None, scalars=(2.5, -1.0, 0.0)) -> list:
    cases = []
    for _ in range(14):
        sa, sb = d.broadcast_pair()
        cases.append(Case([make_a(sa), make_b(sb)]))
    cases.append(Case([make_a([3, 1, 4]), make_b([1, 5, 1])]))  # both operands broadcast
    cases.append(Case([make_a([1029]), make_b([1029])]))
    for s in scalars:
        cases.append(Case([make_a(d.shape(0, 3))], {"other": s}))
    if specials is not None:
        a, b = specials
        cases.append(Case([torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32)]))
    sa, sb = d.broadcast_pair()
    cases.append(Case([make_a(sa).double(), make_b(sb).double()]))
    return cases


def binary(fn, cases, scalar_as_tensor=False):
    """The second operand is either in1 or the number `other` (which torch.maximum/minimum only
    take as a 0-d tensor of the same dtype)."""
    def call(x, a):
        if "other" not in a:
            return fn(x[0], x[1])
        return fn(x[0], torch.tensor(a["other"], dtype=x[0].dtype) if scalar_as_tensor else a["other"])
    return {"fn": call, "cases": cases}


def comparison(fn):
    def cases(d: Draw):
        # Small integers half the time, so that equal elements (and so eq/le/ge) are common.
        return binary_cases(
            d,
            lambda s: d.small_ints(s) if d.r.random() < 0.5 else d.randn(s),
            lambda s: d.small_ints(s),
            specials=([0.0, -0.0, INF, -INF, 1.0, NAN], [-0.0, 0.0, INF, INF, NAN, NAN]),
            scalars=(0.0, 1.0, -1.5),
        )
    return {"fn": lambda x, a: fn(x[0], a["other"] if "other" in a else x[1]), "cases": cases, "differentiable": False}


def nonzero(d: Draw, s):
    """Values bounded away from zero, either sign (denominators)."""
    sign = torch.where(d.bools(s), 1.0, -1.0)
    return sign * d.uniform(s, 0.5, 3.0)


def pow_cases(d: Draw):
    cases = binary_cases(d, lambda s: d.uniform(s, 0.1, 3.0), lambda s: d.randn(s, 1.5), scalars=(2.0, 0.5, -1.0, 3.0, 0.0))
    # Integer exponents of negative bases are defined; 0^0 = 1; 0^-1 = inf; (-2)^0.5 = nan.
    cases.append(Case([torch.tensor([-2.0, -1.5, 0.0, 0.0, 0.0, -2.0, 2.0, -3.0]),
                       torch.tensor([2.0, 3.0, 0.0, 2.0, -1.0, 0.5, -2.0, -1.0])]))
    cases.append(Case([d.randn([3, 4], 2.0)], {"other": 2.0}))
    cases.append(Case([d.randn([3, 4], 2.0)], {"other": 3.0}))
    return cases


def where_cases(d: Draw):
    cases = []
    for _ in range(14):
        out = d.shape(0, 4)
        cases.append(Case([d.bools(d.broadcast_partner(out)), d.randn(d.broadcast_partner(out)), d.randn(out)]))
        if d.r.random() < 0.5:  # shuffle which operand has the full shape
            c = cases[-1].inputs
            cases[-1] = Case([c[0], c[2], c[1]])
    cases.append(Case([d.bools([1029]), d.randn([1029]), d.randn([1029])]))
    return cases


def masked_fill_cases(d: Draw):
    cases = []
    for value in (0.0, -INF, 3.5, -1e9, 0.0, -INF, 1.0, -2.25, 7.0, -INF, 0.5, 0.0):
        shape = d.shape(1, 4)
        cases.append(Case([d.randn(shape), d.bools(d.broadcast_partner(shape))], {"value": value}))
    # The attention-mask pattern: [batch, heads, q, k] masked by a [q, k] causal mask.
    causal = torch.ones(5, 5, dtype=torch.bool).triu(1)
    cases.append(Case([d.randn([2, 3, 5, 5]), causal], {"value": -INF}))
    return cases


# ------------------------------------------------------------------------------------------------
# reductions

def reduction_cases(d: Draw, values=None, extra=()) -> list:
    values = values or (lambda s: d.randn(s))
    cases = []
    for _ in range(16):
        shape = d.shape(1, 4)
        cases.append(Case([values(shape)], {"axes": d.axes(len(shape)), "keepdim": d.r.random() < 0.5}))
    # Long reductions: a row of 1500 and a column of 700 (GPU reductions split these into pieces).
    cases.append(Case([values([2, 1500])], {"axes": 1, "keepdim": False}))
    cases.append(Case([values([700, 3])], {"axes": 0, "keepdim": True}))
    cases.append(Case([values([3, 4, 5]).double()], {"axes": [0, 2], "keepdim": False}))
    cases += list(extra)
    return cases


def reduce_op(fn, values_of=None, extra_of=None):
    def cases(d: Draw):
        values = values_of(d) if values_of else None
        return reduction_cases(d, values, extra_of(d) if extra_of else ())
    return {"fn": lambda x, a: fn(x[0], all_dims(x[0], a["axes"]), a["keepdim"]), "cases": cases}


def max_values(d: Draw):
    # Half the cases from a few integers: ties, whose gradient amax shares out evenly.
    return lambda s: d.small_ints(s, -3, 3) if d.r.random() < 0.5 else d.randn(s)


def logsumexp_extra(d: Draw):
    x = d.randn([3, 6], 2.0)
    x[0, 1] = -INF
    x[1, :3] = -INF
    big = d.randn([2, 5]) * 50 + 500  # exp would overflow without the max shift
    return [Case([x], {"axes": 1, "keepdim": False}), Case([big], {"axes": -1, "keepdim": True})]


def argmax_cases(d: Draw):
    cases = []
    for _ in range(16):
        shape = d.shape(1, 4)
        x = d.small_ints(shape, -2, 2) if d.r.random() < 0.5 else d.randn(shape)
        cases.append(Case([x], {"axis": d.axis(len(shape)), "keepdim": d.r.random() < 0.5}))
    cases.append(Case([d.randn([2, 1500])], {"axis": 1, "keepdim": False}))
    cases.append(Case([torch.tensor([[1.0, 3.0, 3.0, -INF], [INF, 0.0, INF, 2.0]])], {"axis": 1, "keepdim": False}))
    return cases


# ------------------------------------------------------------------------------------------------
# matmul

def matmul_fn(x, a):
    lhs = x[0].mT if a["transA"] else x[0]
    rhs = x[1].mT if a["transB"] else x[1]
    return lhs @ rhs


def matmul_cases(d: Draw):
    cases = []

    def add(m, k, n, batch_a, batch_b, trans_a, trans_b, dtype=torch.float32):
        sa = batch_a + ([k, m] if trans_a else [m, k])
        sb = batch_b + ([n, k] if trans_b else [k, n])
        cases.append(Case([d.randn(sa, dtype=dtype), d.randn(sb, dtype=dtype)], {"transA": trans_a, "transB": trans_b}))

    for _ in range(20):
        m, k, n = (d.r.choice((1, 2, 3, 4, 5, 7, 8)) for _ in range(3))
        batch = d.shape(0, 2, (1, 2, 3))
        # Batch dims broadcast: one side may lack them or have 1s.
        other = d.broadcast_partner(batch)
        batch_a, batch_b = (batch, other) if d.r.random() < 0.5 else (other, batch)
        add(m, k, n, batch_a, batch_b, d.r.random() < 0.4, d.r.random() < 0.4)
    for ta in (False, True):
        for tb in (False, True):
            add(3, 4, 5, [], [], ta, tb)
    add(4, 256, 3, [], [], False, False)  # a long dot product
    add(33, 17, 65, [], [], False, True)  # just past typical GPU tile sizes
    add(4, 5, 6, [2], [2], False, False, torch.float64)
    return cases


# ------------------------------------------------------------------------------------------------
# movement

def factor_shape(d: Draw, numel: int) -> list:
    """A random shape with `numel` elements (its prime factors regrouped, with a few 1s)."""
    factors = []
    n, p = numel, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    d.r.shuffle(factors)
    dims = [1] * d.r.randint(1, 4)
    for f in factors:
        dims[d.r.randrange(len(dims))] *= f
    return dims


def reshape_cases(d: Draw):
    cases = []
    for i in range(14):
        shape = d.shape(0, 4)
        target = factor_shape(d, math.prod(shape))
        if i % 5 == 4:
            target[d.r.randrange(len(target))] = -1  # torch infers one dim
        cases.append(Case([d.randn(shape)], {"shape": target}))
    cases.append(Case([d.randn([1, 1])], {"shape": []}))  # down to a scalar
    return cases


def permute_cases(d: Draw):
    cases = []
    for _ in range(14):
        shape = d.shape(1, 5, (1, 2, 3, 4))
        dims = list(range(len(shape)))
        d.r.shuffle(dims)
        cases.append(Case([d.randn(shape)], {"dims": dims}))
    return cases


def transpose_cases(d: Draw):
    cases = []
    for _ in range(14):
        shape = d.shape(1, 4)
        cases.append(Case([d.randn(shape)], {"dim0": d.axis(len(shape)), "dim1": d.axis(len(shape))}))
    return cases


def expand_cases(d: Draw):
    cases = []
    for _ in range(14):
        shape = d.shape(0, 3, (1, 1, 2, 3))
        target = [d.r.choice((1, 2, 3, 4)) if s == 1 else s for s in shape]
        target = [d.r.choice((1, 2, 3)) for _ in range(d.r.randint(0, 2))] + target
        cases.append(Case([d.randn(shape)], {"shape": target}))
    return cases


def slice_cases(d: Draw):
    cases = []
    for _ in range(16):
        shape = d.shape(1, 4, (1, 2, 3, 4, 6))
        axis = d.axis(len(shape))
        size = shape[axis]
        start = d.r.randrange(size)
        end = d.r.randint(start + 1, size)
        cases.append(Case([d.randn(shape)], {"axis": axis, "start": start, "end": end}))
    return cases


def concat_cases(d: Draw):
    cases = []
    for _ in range(14):
        shape = d.shape(1, 4)
        axis = d.axis(len(shape))
        parts = []
        for _ in range(d.r.randint(1, 4)):
            s = list(shape)
            s[axis] = d.r.randint(1, 4)
            parts.append(d.randn(s))
        cases.append(Case(parts, {"axis": axis}))
    return cases


def stack_cases(d: Draw):
    cases = []
    for _ in range(14):
        shape = d.shape(0, 3)
        rank = len(shape) + 1
        axis = d.r.randrange(rank)
        if d.r.random() < 0.33:
            axis -= rank
        cases.append(Case([d.randn(shape) for _ in range(d.r.randint(1, 4))], {"axis": axis}))
    return cases


def split_cases(d: Draw):
    cases = []
    for i in range(14):
        shape = d.shape(1, 3, (1, 2, 3, 4, 5, 7))
        axis = d.axis(len(shape))
        size = shape[axis]
        if i % 2 == 0:
            sizes = d.r.randint(1, size)  # chunks of this size, the last one smaller
        else:
            cuts = sorted(d.r.sample(range(1, size), d.r.randint(0, size - 1))) if size > 1 else []
            sizes = [b - a for a, b in zip([0] + cuts, cuts + [size])]
        cases.append(Case([d.randn(shape)], {"sizes": sizes, "axis": axis}))
    return cases


def pad_fn(x, a):
    # The engine lists [before, after] per dim from the first; F.pad wants them from the last.
    flat = [p for pair in reversed(a["pads"]) for p in pair]
    return F.pad(x[0], flat, mode="constant", value=a["value"])


def pad_cases(d: Draw):
    cases = []
    for value in (0.0, 1.5, 0.0, -INF, -2.0, 0.0, 0.25, 0.0, 3.0, 0.0, -1.0, 0.0):
        shape = d.shape(1, 4, (1, 2, 3))
        pads = [[d.r.randint(0, 2), d.r.randint(0, 2)] for _ in shape]
        cases.append(Case([d.randn(shape)], {"pads": pads, "value": value}))
    return cases


# ------------------------------------------------------------------------------------------------
# indexing

def index_shape(d: Draw, shape: list, axis: int, limit_axis=None) -> list:
    """An index shape for gather/scatter: no bigger than `shape` off the axis, anything along it."""
    out = [d.r.randint(1, s) for s in shape]
    out[axis] = d.r.randint(1, limit_axis if limit_axis is not None else 5)
    return out


def gather_cases(d: Draw):
    cases = []
    for _ in range(16):
        shape = d.shape(1, 4)
        axis = d.axis(len(shape))
        ishape = index_shape(d, shape, axis)
        cases.append(Case([d.randn(shape), d.randint(0, shape[axis], ishape)], {"axis": axis}))
    return cases


def scatter_add_cases(d: Draw):
    cases = []
    for _ in range(16):
        shape = d.shape(1, 4)
        axis = d.axis(len(shape))
        ishape = index_shape(d, shape, axis)
        # Indices repeat: additions into one place must all count.
        cases.append(Case([d.randn(shape), d.randint(0, shape[axis], ishape), d.randn(ishape)], {"axis": axis}))
    return cases


def scatter_cases(d: Draw):
    cases = []
    for _ in range(16):
        shape = d.shape(1, 4)
        axis = d.axis(len(shape))
        ishape = index_shape(d, shape, axis, limit_axis=shape[axis])
        # Unique indices along the axis (overwriting twice would make the result order-dependent):
        # a random permutation of 0..size-1 at every position, cut to the index length.
        full = list(ishape)
        full[axis] = shape[axis]
        perm = torch.argsort(torch.rand(full, generator=d.g), dim=axis)
        index = perm.narrow(axis, 0, ishape[axis]).contiguous()
        cases.append(Case([d.randn(shape), index, d.randn(ishape)], {"axis": axis}))
    return cases


def index_select_cases(d: Draw):
    cases = []
    for _ in range(16):
        shape = d.shape(1, 4)
        axis = d.axis(len(shape))
        index = d.randint(0, shape[axis], [d.r.randint(1, 6)])  # repeats included
        cases.append(Case([d.randn(shape), index], {"axis": axis}))
    return cases


def one_hot_cases(d: Draw):
    cases = []
    for _ in range(10):
        classes = d.r.randint(1, 9)
        cases.append(Case([d.randint(0, classes, d.shape(0, 2))], {"numClasses": classes}))
    return cases


# ------------------------------------------------------------------------------------------------
# nn functions

def softmax_cases(d: Draw):
    cases = []
    for _ in range(14):
        shape = d.shape(1, 4)
        cases.append(Case([d.randn(shape, 3.0)], {"axis": d.axis(len(shape))}))
    masked = d.randn([4, 6])
    masked[0, 2:] = -INF  # masked attention scores
    masked[2, 0] = -INF
    cases.append(Case([masked], {"axis": -1}))
    cases.append(Case([d.randn([2, 5]) * 30 + 200], {"axis": 1}))  # needs the max shift
    cases.append(Case([d.randn([3, 700])], {"axis": 1}))
    cases.append(Case([d.randn([3, 4]).double()], {"axis": 0}))
    return cases


def cross_entropy_fn(x, a):
    return F.cross_entropy(x[0], x[1], ignore_index=a["ignoreIndex"], reduction="mean")


def cross_entropy_cases(d: Draw):
    cases = []
    for _ in range(12):
        n, c = d.r.choice((1, 2, 3, 7, 16)), d.r.choice((2, 3, 5, 10, 33))
        targets = d.randint(0, c, [n])
        ignored = d.bools([n], 0.25)
        if ignored.all():
            ignored[0] = False
        targets[ignored] = -100
        cases.append(Case([d.randn([n, c], 2.0), targets], {"ignoreIndex": -100}))
    # A custom ignore index; extreme logits; every target ignored (torch gives 0/0 = nan).
    cases.append(Case([d.randn([5, 4]), torch.tensor([0, 3, 0, 1, 2])], {"ignoreIndex": 0}))
    cases.append(Case([d.randn([3, 4]) * 100, torch.tensor([1, 2, 3])], {"ignoreIndex": -100}))
    cases.append(Case([d.randn([3, 4]), torch.tensor([-100, -100, -100])], {"ignoreIndex": -100}))
    cases.append(Case([d.randn([4, 300]), d.randint(0, 300, [4])], {"ignoreIndex": -100}))
    return cases


def mse_cases(d: Draw):
    cases = []
    for _ in range(12):
        shape = d.shape(0, 4)
        cases.append(Case([d.randn(shape), d.randn(shape)]))
    cases.append(Case([d.randn([1500]), d.randn([1500])]))
    return cases


def topk_cases(d: Draw):
    cases = []
    for _ in range(14):
        shape = d.shape(1, 3, (1, 2, 3, 5, 8, 13))
        cases.append(Case([d.distinct(shape)], {"k": d.r.randint(1, shape[-1])}))
    cases.append(Case([d.distinct([2, 1000])], {"k": 10}))
    return cases


# ------------------------------------------------------------------------------------------------
# the op table: file name (the engine's op name) → torch definition and case generator

def positive(d, s):
    return d.uniform(s, 0.05, 10.0)


OPS = {
    "add": binary(torch.add, lambda d: binary_cases(d, d.randn, d.randn, ([INF, -INF, 1.0], [1.0, INF, -INF]))),
    "sub": binary(torch.sub, lambda d: binary_cases(d, d.randn, d.randn, ([INF, INF, 1.0], [1.0, INF, -INF]))),
    "mul": binary(torch.mul, lambda d: binary_cases(d, d.randn, d.randn, ([INF, 0.0, -0.0, 2.0], [0.0, 3.0, -1.0, -INF]))),
    "div": binary(torch.div, lambda d: binary_cases(
        d, d.randn, lambda s: nonzero(d, s), ([1.0, -1.0, 0.0, INF, 1.0], [0.0, 0.0, 0.0, 2.0, INF]), scalars=(2.5, -4.0, 0.5))),
    "pow": binary(torch.pow, pow_cases),
    "maximum": binary(torch.maximum, lambda d: binary_cases(
        d, lambda s: d.small_ints(s), lambda s: d.small_ints(s) if d.r.random() < 0.5 else d.randn(s),
        ([1.0, 2.0, -INF, 0.0], [1.0, -3.0, 5.0, -0.0]), scalars=(0.0, 1.0)), scalar_as_tensor=True),
    "minimum": binary(torch.minimum, lambda d: binary_cases(
        d, lambda s: d.small_ints(s), lambda s: d.small_ints(s) if d.r.random() < 0.5 else d.randn(s),
        ([1.0, 2.0, INF, 0.0], [1.0, -3.0, 5.0, -0.0]), scalars=(0.0, -1.0)), scalar_as_tensor=True),
    "neg": unary(torch.neg, lambda d, s: d.randn(s, 3.0), [0.0, -0.0, INF, -INF, 1.5]),
    "exp": unary(torch.exp, lambda d, s: d.randn(s, 3.0), [0.0, -INF, INF, 100.0, -100.0, 88.0, -0.0]),
    "log": unary(torch.log, positive, [0.0, -0.0, -1.0, INF, 1.0, 1e-30]),
    "sqrt": unary(torch.sqrt, lambda d, s: d.uniform(s, 0.0, 10.0), [0.0, -1.0, INF, 1.0, 4.0, 1e-30]),
    "rsqrt": unary(torch.rsqrt, positive, [0.0, -1.0, INF, 1.0, 4.0, 1e-30]),
    "abs": unary(torch.abs, lambda d, s: d.randn(s, 3.0), [0.0, -0.0, INF, -INF, -2.0]),
    "sin": unary(torch.sin, lambda d, s: d.uniform(s, -10.0, 10.0), [0.0, math.pi, -math.pi / 2, 100.0]),
    "cos": unary(torch.cos, lambda d, s: d.uniform(s, -10.0, 10.0), [0.0, math.pi, -math.pi / 2, 100.0]),
    "tanh": unary(torch.tanh, lambda d, s: d.randn(s, 3.0), [0.0, 20.0, -20.0, INF, -INF, 1e-8]),
    "sigmoid": unary(torch.sigmoid, lambda d, s: d.randn(s, 4.0), [0.0, 50.0, -50.0, 100.0, -100.0, INF, -INF]),
    "silu": unary(F.silu, lambda d, s: d.randn(s, 4.0), [0.0, 50.0, -50.0, 100.0, -100.0, -1.278]),
    "relu": unary(torch.relu, lambda d, s: d.randn(s, 2.0), [0.0, -0.0, INF, -INF, 1.0, -1.0]),
    "eq": comparison(torch.eq),
    "ne": comparison(torch.ne),
    "lt": comparison(torch.lt),
    "le": comparison(torch.le),
    "gt": comparison(torch.gt),
    "ge": comparison(torch.ge),
    "where": {"fn": lambda x, a: torch.where(x[0], x[1], x[2]), "cases": where_cases},
    "maskedFill": {"fn": lambda x, a: x[0].masked_fill(x[1], a["value"]), "cases": masked_fill_cases},
    "sum": reduce_op(lambda x, dims, keep: x.sum(dim=dims, keepdim=keep)),
    "mean": reduce_op(lambda x, dims, keep: x.mean(dim=dims, keepdim=keep)),
    "max": reduce_op(lambda x, dims, keep: torch.amax(x, dim=dims, keepdim=keep), values_of=max_values),
    "logsumexp": reduce_op(lambda x, dims, keep: torch.logsumexp(x, dim=dims, keepdim=keep), extra_of=logsumexp_extra),
    "argmax": {"fn": lambda x, a: torch.argmax(x[0], dim=a["axis"], keepdim=a["keepdim"]), "cases": argmax_cases,
               "differentiable": False},
    "matmul": {"fn": matmul_fn, "cases": matmul_cases},
    "reshape": {"fn": lambda x, a: x[0].reshape(a["shape"]), "cases": reshape_cases},
    "permute": {"fn": lambda x, a: x[0].permute(a["dims"]), "cases": permute_cases},
    "transpose": {"fn": lambda x, a: x[0].transpose(a["dim0"], a["dim1"]), "cases": transpose_cases},
    "expand": {"fn": lambda x, a: x[0].expand(a["shape"]), "cases": expand_cases},
    "slice": {"fn": lambda x, a: x[0].narrow(a["axis"], a["start"], a["end"] - a["start"]), "cases": slice_cases},
    "concat": {"fn": lambda x, a: torch.cat(x, dim=a["axis"]), "cases": concat_cases},
    "stack": {"fn": lambda x, a: torch.stack(x, dim=a["axis"]), "cases": stack_cases},
    "split": {"fn": lambda x, a: list(torch.split(x[0], a["sizes"], dim=a["axis"])), "cases": split_cases},
    "pad": {"fn": pad_fn, "cases": pad_cases},
    "gather": {"fn": lambda x, a: torch.gather(x[0], a["axis"], x[1]), "cases": gather_cases},
    "scatterAdd": {"fn": lambda x, a: torch.scatter_add(x[0], a["axis"], x[1], x[2]), "cases": scatter_add_cases},
    "scatter": {"fn": lambda x, a: torch.scatter(x[0], a["axis"], x[1], x[2]), "cases": scatter_cases},
    "indexSelect": {"fn": lambda x, a: torch.index_select(x[0], a["axis"], x[1]), "cases": index_select_cases},
    "oneHot": {"fn": lambda x, a: F.one_hot(x[0], a["numClasses"]), "cases": one_hot_cases, "differentiable": False},
    "softmax": {"fn": lambda x, a: torch.softmax(x[0], dim=a["axis"]), "cases": softmax_cases},
    "logSoftmax": {"fn": lambda x, a: torch.log_softmax(x[0], dim=a["axis"]), "cases": softmax_cases},
    "crossEntropy": {"fn": cross_entropy_fn, "cases": cross_entropy_cases},
    "mseLoss": {"fn": lambda x, a: F.mse_loss(x[0], x[1], reduction="mean"), "cases": mse_cases},
    "topk": {"fn": lambda x, a: dict(zip(("values", "indices"), torch.topk(x[0], a["k"], dim=-1, largest=True, sorted=True))),
             "cases": topk_cases, "differentiable": False},
}


def record(fixtures_dir: str) -> list:
    """Writes one file per op; returns their paths."""
    files = []
    for name, op in OPS.items():
        d = Draw(name)
        path = os.path.join(fixtures_dir, "ops", f"{name}.safetensors")
        record_cases(path, op["fn"], op["cases"](d), d.g, op.get("differentiable", True), {"op": name})
        files.append(path)
    return files
