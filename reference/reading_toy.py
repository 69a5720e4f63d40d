"""Can a CLaRa generator at toy scale learn to READ values out of memory vectors?

Not a recorder: a research replica of the demo's model in plain PyTorch (hidden 128, 2 layers, a
random frozen base, a compressor and a generator LoRA, 4 memory vectors per document), trained on
documents whose people and values are drawn anew for every example, so that answering from a name
the memory names (looking up) is impossible and only reading the value scores. It is the quick way
(about 50 ms a step on one thread) to ask which settings make reading learnable before spending a
demo run on them; docs/reading.md has what it found.

    /usr/bin/python3 reference/reading_toy.py --lr 1e-3 --facts 1:300,2-4 --steps 1500
    /usr/bin/python3 reference/reading_toy.py --help

It prints, every --eval_every steps, exact match on 256 fresh documents of one fact (EM1), of 2-4
facts (EM2-4) and of 4 facts (EM4), and per kind of value; guessing by kind scores about 0.05.
--facts 1:300,2-4 is a curriculum: one-fact documents up to step 300, then 2-4. --prefix N puts
N fixed ordinary tokens before the memory vectors (an instruction, as the chat prompt has);
--qtarget 1 makes the question part of the target too (stage 1's `qa` rows); --raw 1 gives the
generator the document's tokens instead of memory vectors (an upper bound).
"""
import argparse, math, random, time, json, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)

p = argparse.ArgumentParser()
p.add_argument('--steps', type=int, default=1500)
p.add_argument('--bs', type=int, default=16)
p.add_argument('--lr', type=float, default=3e-3)
p.add_argument('--warmup', type=int, default=0)
p.add_argument('--cosine', type=int, default=0)
p.add_argument('--wd', type=float, default=0.0)
p.add_argument('--nmem', type=int, default=4)
p.add_argument('--r', type=int, default=32)
p.add_argument('--alpha', type=float, default=64)
p.add_argument('--mse', type=float, default=0.1)
p.add_argument('--hold', type=int, default=300, help='compressor frozen for the first N steps')
p.add_argument('--recon', type=float, default=0.0, help='share of rows that reconstruct the document')
p.add_argument('--raw', type=int, default=0, help='sanity: generator reads raw document tokens')
p.add_argument('--facts', type=str, default='2-4', help='min-max facts per doc; or curriculum like 1:300,2:600,4')
p.add_argument('--train_mem', type=int, default=1)
p.add_argument('--train_emb', type=int, default=0, help='train full embedding table')
p.add_argument('--train_norm', type=int, default=0)
p.add_argument('--train_head', type=int, default=0)
p.add_argument('--head_std', type=float, default=0.3)
p.add_argument('--emb_std', type=float, default=1.0)
p.add_argument('--b_init', type=float, default=0.0)
p.add_argument('--layers', type=int, default=2)
p.add_argument('--hidden', type=int, default=128)
p.add_argument('--vals', type=str, default='full', help='full or small (fewer values per attribute)')
p.add_argument('--eval_every', type=int, default=100)
p.add_argument('--neval', type=int, default=256)
p.add_argument('--seed', type=int, default=0)
p.add_argument('--clip', type=float, default=1.0)
p.add_argument('--qonly_gen', type=int, default=0, help='question prompt given to the compressor too (query-aware)')
p.add_argument('--tie', type=int, default=0, help='head = embeddings * head_std')
p.add_argument('--head_lr', type=float, default=0, help='lr of the trainable head/emb/norm group (0 = --lr)')
p.add_argument('--prefix', type=int, default=0, help='N fixed ordinary tokens before the memory vectors')
p.add_argument('--qtarget', type=int, default=0, help='train on the question tokens too (stage-1 qa rows)')
p.add_argument('--tag', type=str, default='')
args = p.parse_args()
print(json.dumps(vars(args)), flush=True)

random.seed(args.seed); torch.manual_seed(args.seed)

# ---------------- data ----------------
rng0 = random.Random(1234)
def inv_word(r, used):
    cons, vow = 'bdfgklmnprstvz', 'aeiou'
    while True:
        w = ''.join(r.choice(cons) + r.choice(vow) for _ in range(r.choice([2, 3])))
        if w not in used:
            used.add(w); return w
used = set()
FIRST = [inv_word(rng0, used).capitalize() for _ in range(12)]
LAST = [inv_word(rng0, used).capitalize() for _ in range(12)]
TOWNS = [inv_word(rng0, used).capitalize() for _ in range(24)]
YEARS = [str(1900 + i) for i in range(100)]
JOBS = ['baker', 'carpenter', 'teacher', 'nurse', 'pilot', 'farmer', 'painter', 'plumber', 'tailor', 'sailor', 'doctor',
        'lawyer', 'chemist', 'miner', 'potter', 'weaver', 'butcher', 'jeweller', 'librarian', 'architect']
COLOURS = ['red', 'blue', 'green', 'yellow', 'purple', 'orange', 'pink', 'brown', 'black', 'white', 'grey', 'teal']
if args.vals == 'small':
    TOWNS, YEARS, JOBS, COLOURS = TOWNS[:6], YEARS[:6], JOBS[:6], COLOURS[:6]
VALUES = {'birthplace': TOWNS, 'birthYear': YEARS, 'job': JOBS, 'colour': COLOURS}
ATTRS = list(VALUES)
SENT = {'birthplace': ['{name} was born in {v} .', '{name} comes from the town of {v} .'],
        'birthYear': ['{name} was born in the year {v} .', 'The birth year of {name} is {v} .'],
        'job': ['{name} works as {a} {v} .', 'By trade , {name} is {a} {v} .'],
        'colour': ['The favourite colour of {name} is {v} .', '{name} likes the colour {v} best .']}
QUES = {'birthplace': ['Where was {name} born ?', 'Which town does {name} come from ?'],
        'birthYear': ['In which year was {name} born ?', 'What is the birth year of {name} ?'],
        'job': ['What is the job of {name} ?', 'What does {name} do for a living ?'],
        'colour': ['What is the favourite colour of {name} ?', 'Which colour does {name} like best ?']}

SPECIALS = ['<pad>', '<eos>', '<q>', '<a>', '<rec>'] + ['<mem%d>' % i for i in range(16)]
vocab = list(SPECIALS)
def addw(s):
    for w in s.split():
        if w not in vocab: vocab.append(w)
for a in ATTRS:
    for s in SENT[a] + QUES[a]: addw(s.replace('{name}', '').replace('{v}', '').replace('{a}', 'a an'))
for lst in [FIRST, LAST, TOWNS, YEARS, JOBS, COLOURS]:
    for w in lst: addw(w)
tok = {w: i for i, w in enumerate(vocab)}
V = len(vocab)
PAD, EOS, QT, AT, REC = [tok[x] for x in ['<pad>', '<eos>', '<q>', '<a>', '<rec>']]
MEM = [tok['<mem%d>' % i] for i in range(16)]
print('vocab', V, flush=True)

def enc(s): return [tok[w] for w in s.split()]

def make_example(r, nfacts):
    first, last = r.choice(FIRST), r.choice(LAST)
    attrs = r.sample(ATTRS, nfacts)
    vals = {a: r.choice(VALUES[a]) for a in attrs}
    sents = []
    for i, a in enumerate(attrs):
        name = first + ' ' + last if i == 0 else first
        v = vals[a]
        s = r.choice(SENT[a]).replace('{name}', name).replace('{v}', v).replace('{a}', 'an' if v[0] in 'aeiou' else 'a')
        sents.append(s)
    doc = ' '.join(sents)
    qa = r.choice(attrs)
    q = r.choice(QUES[qa]).replace('{name}', first + ' ' + last)
    return enc(doc), enc(q), tok[vals[qa]], qa

def facts_at(step):
    spec = args.facts
    if ':' in spec or ',' in spec:
        parts = spec.split(',')
        for part in parts:
            if ':' in part:
                f, until = part.split(':')
                if step < int(until): return f
            else:
                return part
        return parts[-1].split(':')[0]
    return spec

def nf(r, fspec):
    if '-' in fspec:
        lo, hi = map(int, fspec.split('-')); return r.randint(lo, hi)
    return int(fspec)

# ---------------- model ----------------
H = args.hidden; NH, NKV = 4, 2; HD = H // NH; FF = 2 * H; L = args.layers
class LoRALinear(nn.Module):
    def __init__(s, i, o):
        super().__init__()
        s.weight = nn.Parameter(torch.empty(o, i).uniform_(-1 / math.sqrt(i), 1 / math.sqrt(i)), requires_grad=False)
        s.A = nn.ParameterDict(); s.B = nn.ParameterDict(); s.active = None
        for name in ['comp', 'gen']:
            A = torch.empty(args.r, i); nn.init.kaiming_uniform_(A, a=math.sqrt(5))
            s.A[name] = nn.Parameter(A)
            s.B[name] = nn.Parameter(torch.randn(o, args.r) * args.b_init)
        s.scale = args.alpha / args.r
    def forward(s, x):
        y = x @ s.weight.t()
        a = s.active
        return y + (x @ s.A[a].t()) @ s.B[a].t() * s.scale

class RMS(nn.Module):
    def __init__(s, d):
        super().__init__(); s.w = nn.Parameter(torch.ones(d), requires_grad=bool(args.train_norm))
    def forward(s, x): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * s.w

def rope(x, pos):  # x [B,h,T,d], pos [B,T]
    d = x.shape[-1]
    inv = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
    ang = pos[:, None, :, None].float() * inv  # B,1,T,d/2
    cos, sin = ang.cos(), ang.sin()
    cos = torch.cat([cos, cos], -1); sin = torch.cat([sin, sin], -1)
    x1, x2 = x[..., :d // 2], x[..., d // 2:]
    rot = torch.cat([-x2, x1], -1)
    return x * cos + rot * sin

class Layer(nn.Module):
    def __init__(s):
        super().__init__()
        s.n1, s.n2 = RMS(H), RMS(H)
        s.q, s.k, s.v, s.o = LoRALinear(H, NH * HD), LoRALinear(H, NKV * HD), LoRALinear(H, NKV * HD), LoRALinear(NH * HD, H)
        s.g, s.u, s.d = LoRALinear(H, FF), LoRALinear(H, FF), LoRALinear(FF, H)
    def forward(s, x, pos, mask):
        B, T, _ = x.shape
        h = s.n1(x)
        q = s.q(h).view(B, T, NH, HD).transpose(1, 2)
        k = s.k(h).view(B, T, NKV, HD).transpose(1, 2)
        v = s.v(h).view(B, T, NKV, HD).transpose(1, 2)
        q, k = rope(q, pos), rope(k, pos)
        k = k.repeat_interleave(NH // NKV, 1); v = v.repeat_interleave(NH // NKV, 1)
        att = q @ k.transpose(-1, -2) / math.sqrt(HD)
        att = att.masked_fill(~mask[:, None], -1e9).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, H)
        x = x + s.o(y)
        h = s.n2(x)
        return x + s.d(F.silu(s.g(h)) * s.u(h))

class Model(nn.Module):
    def __init__(s):
        super().__init__()
        s.emb = nn.Parameter(torch.randn(V, H) * args.emb_std, requires_grad=False)
        s.layers = nn.ModuleList([Layer() for _ in range(L)])
        s.norm = RMS(H)
        s.head = nn.Parameter(torch.randn(V, H) * args.head_std, requires_grad=bool(args.train_head))
        with torch.no_grad():  # memory rows = mean of other rows + noise
            others = [i for i in range(V) if i not in MEM]
            s.emb[MEM] = s.emb[others].mean(0) + 0.02 * torch.randn(len(MEM), H)
        s.mem_rows = nn.Parameter(s.emb[MEM].clone(), requires_grad=bool(args.train_mem))
        s.emb_delta = nn.Parameter(torch.zeros(V, H), requires_grad=bool(args.train_emb))
    def set_adapter(s, name):
        for m in s.modules():
            if isinstance(m, LoRALinear): m.active = name
    def embed(s, ids):
        e = F.embedding(ids, s.emb + s.emb_delta)
        is_mem = (ids >= MEM[0]) & (ids <= MEM[-1])
        if is_mem.any():
            memv = s.mem_rows[(ids - MEM[0]).clamp(0, 15)]
            e = torch.where(is_mem[..., None], memv, e)
        return e
    def forward(s, x, valid):  # x embeddings [B,T,H], valid [B,T] bool (left padded)
        B, T, _ = x.shape
        pos = (valid.long().cumsum(1) - 1).clamp(min=0)
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        mask = causal[None] & valid[:, None, :]
        for l in s.layers: x = l(x, pos, mask)
        return s.norm(x)

model = Model()
# Ordinary words only (the specials come first in the vocabulary): a fixed instruction-like prefix.
PREFIX_IDS = [int(i) for i in torch.randint(len(SPECIALS), V, (args.prefix,), generator=torch.Generator().manual_seed(123))]

def leftpad(seqs):
    T = max(len(q) for q in seqs)
    ids = torch.full((len(seqs), T), PAD, dtype=torch.long)
    valid = torch.zeros(len(seqs), T, dtype=torch.bool)
    for i, q in enumerate(seqs):
        ids[i, T - len(q):] = torch.tensor(q); valid[i, T - len(q):] = True
    return ids, valid

def compress(docs):
    model.set_adapter('comp')
    seqs = [d + MEM[:args.nmem] for d in docs]
    ids, valid = leftpad(seqs)
    h = model(model.embed(ids), valid)
    mem = h[:, -args.nmem:]
    docmask = valid.clone(); docmask[:, -args.nmem:] = False
    docmean = (h * docmask[..., None]).sum(1) / docmask.sum(1, keepdim=True)
    return mem, docmean

def generate_logits(prefix_embs, prefix_valid, tails):
    """prefix_embs [B,P,H] (mem vectors or raw doc embeddings, left padded), tails: token lists."""
    model.set_adapter('gen')
    T2 = max(len(t) for t in tails)
    B = len(tails)
    # right-align prefix, then tails left-aligned after it; pad tails on the right (causal => harmless)
    tid = torch.full((B, T2), PAD, dtype=torch.long); tval = torch.zeros(B, T2, dtype=torch.bool)
    for i, t in enumerate(tails):
        tid[i, :len(t)] = torch.tensor(t); tval[i, :len(t)] = True
    if args.prefix:
        fixed = torch.tensor(PREFIX_IDS)[None].expand(B, -1)
        prefix_embs = torch.cat([model.embed(fixed), prefix_embs], 1)
        prefix_valid = torch.cat([torch.ones(B, len(PREFIX_IDS), dtype=torch.bool), prefix_valid], 1)
    x = torch.cat([prefix_embs, model.embed(tid)], 1)
    valid = torch.cat([prefix_valid, tval], 1)
    h = model(x, valid)
    head = (model.emb + model.emb_delta) * args.head_std if args.tie else model.head
    return h[:, prefix_embs.shape[1]:] @ head.t()  # [B,T2,V]

def batch_loss(r, step, B, train=True):
    fspec = facts_at(step)
    exs = [make_example(r, nf(r, fspec)) for _ in range(B)]
    docs = [e[0] for e in exs]
    if args.raw:
        ids, valid = leftpad(docs)
        model.set_adapter('gen')
        prefix = model.embed(ids); mse = torch.zeros(())
    else:
        mem, docmean = compress(docs)
        prefix = mem; valid = torch.ones(B, args.nmem, dtype=torch.bool)
        mse = F.mse_loss(mem.mean(1), docmean)
    tails, targets = [], []
    nrec = int(round(args.recon * B)) if train else 0
    for i, (d, q, a, _k) in enumerate(exs):
        if i < nrec:
            t = [REC] + d + [EOS]; tails.append(t); targets.append((1, t[1:]))
        else:
            t = [QT] + q + [AT, a, EOS]; tails.append(t); targets.append(((1, t[1:]) if (args.qtarget and train) else (len(q) + 2, [a, EOS])))
    logits = generate_logits(prefix, valid, tails)
    lp, tg = [], []
    qa_first = []
    for i, (start, tt) in enumerate(targets):
        lp.append(logits[i, start - 1:start - 1 + len(tt)]); tg.append(torch.tensor(tt))
        if i >= nrec: qa_first.append((logits[i, start - 1].argmax().item() == tt[0]))
    ce = F.cross_entropy(torch.cat(lp), torch.cat(tg))
    return ce, mse, sum(qa_first) / max(1, len(qa_first))

comp_params = [pp for n, pp in model.named_parameters() if ('.comp' in n)] + ([model.mem_rows] if args.train_mem else [])
gen_params = [pp for n, pp in model.named_parameters() if ('.gen' in n)]
other = [pp for pp in [model.emb_delta, model.head] if pp.requires_grad] + \
        [pp for n, pp in model.named_parameters() if n.endswith('.w') and pp.requires_grad]
opt = torch.optim.AdamW([{'params': comp_params}, {'params': gen_params}, {'params': other}], lr=args.lr, weight_decay=args.wd)

def lr_at(step):
    f = 1.0
    if args.warmup: f = min(1.0, (step + 1) / args.warmup)
    if args.cosine: f *= 0.5 * (1 + math.cos(math.pi * step / args.steps))
    return args.lr * f

def evaluate(nfacts_list=('1', '2-4', '4')):
    out = {}; kinds = {}
    with torch.no_grad():
        for fs in nfacts_list:
            r = random.Random(999)
            hits = 0; n = 0
            for _ in range(max(1, args.neval // 64)):  # batches of 64 documents
                exs = [make_example(r, nf(r, fs)) for _ in range(64)]
                docs = [e[0] for e in exs]
                if args.raw:
                    ids, valid = leftpad(docs); model.set_adapter('gen'); prefix = model.embed(ids)
                else:
                    prefix, _ = compress(docs); valid = torch.ones(64, args.nmem, dtype=torch.bool)
                tails = [[QT] + q + [AT] for (_, q, _, _k) in exs]
                logits = generate_logits(prefix, valid, tails)
                for i, (_, q, a, kd) in enumerate(exs):
                    ok = int(logits[i, len(q) + 1].argmax().item() == a); hits += ok; n += 1
                    if fs == '2-4': kinds.setdefault(kd, []).append(ok)
            out[fs] = hits / n
    out['kinds'] = {k: round(sum(v) / len(v), 2) for k, v in kinds.items()}
    return out

r = random.Random(args.seed + 17)
t0 = time.time(); hist = []
run_ce = run_acc = 0.0
for step in range(args.steps):
    for gi, g in enumerate(opt.param_groups): g['lr'] = lr_at(step) * (args.head_lr / args.lr if (gi == 2 and args.head_lr) else 1.0)
    frozen = (not args.raw) and step < args.hold
    for pp in comp_params: pp.requires_grad_(not frozen)
    ce, mse, acc = batch_loss(r, step, args.bs)
    loss = ce + args.mse * mse
    opt.zero_grad(set_to_none=True); loss.backward()
    torch.nn.utils.clip_grad_norm_([pp for g in opt.param_groups for pp in g['params']], args.clip)
    opt.step()
    run_ce = 0.95 * run_ce + 0.05 * ce.item() if step else ce.item(); run_acc = 0.95 * run_acc + 0.05 * acc
    if (step + 1) % args.eval_every == 0 or step == args.steps - 1:
        ev = evaluate()
        el = time.time() - t0
        hist.append({'step': step + 1, 'ce': round(run_ce, 3), 'train_acc': round(run_acc, 3), 'em': ev, 's': round(el, 1)})
        print(f"step {step+1} facts {facts_at(step)} ce {run_ce:.3f} tracc {run_acc:.2f} EM1 {ev['1']:.2f} EM2-4 {ev['2-4']:.2f} EM4 {ev['4']:.2f} kinds {ev['kinds']} mse {mse.item():.3f} t {el:.0f}s ({1000*el/(step+1):.0f} ms/step)", flush=True)
print('RESULT', json.dumps({'args': vars(args), 'hist': hist}), flush=True)
