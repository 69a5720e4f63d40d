"""CLaRa stage-3 golden state: one end-to-end step (spec §6) in plain PyTorch, at two temperatures.

Writes test/fixtures/clara/stage3_tiny.safetensors, which test/clara/stage3/golden.test.ts replays on
every backend through the library (compressCorpus, encodeQueries, cosineScores, straightThroughTopK,
spliceCompressed, stage3Loss, prepareStage3). The backbone and the id layout are those of
record_clara_stage1.py (whose pieces are imported, as it imports record_mistral.py's): the tiny config,
V = 64, n = 4, `<MEM0..3>` = 57…60, `<AE>` 61, `<ENC>` 62, `<SEP>` 63, pad = `<s>` = 1.

Adapters (LoRA r 4, α 8, dropout 0), all with A and B non-zero:
  encoder_adapter          random (record_mistral.init_adapter)
  decoder_adapter          random
  query_reasoner_adapter   a copy of encoder_adapter, then perturbed: + N(0, 0.05²) on every element
                           (so a query encoded with the wrong adapter shows; metadata "qr_init")

The step, exactly what clara/stage3Loss.ts computes (B = 2 questions, N = 5 candidates, k = 2):
  bank        6 documents, `[pad … | <ENC> <s> doc </s> | <MEM0..3>]` left-padded to the longest, compressed
              by the encoder_adapter under torch.no_grad(): an input, no gradient reaches the compressor
  q           the query reasoner: the same layout with the question as text, query_reasoner_adapter,
              last post-norm states at the memory positions, flattened  [B, n·d]
  D           bank[candidates]  [B, N, n·d]
  s           cosine: F.normalize(q, eps 1e-12) · F.normalize(D, eps 1e-12)  [B, N]
  top-k       l = s / max(τ, 1e-6); idx = the k largest of l, best first; H = one-hot(idx)  [B, k, N]
              taken₀ = 0; P[j] = softmax(l + log((1 − taken_j) + 1e-8)); taken_{j+1} = min(taken_j + H[j], 1)
              W = H + (P − P.detach())
  sel         W @ D → [B·k, n, d]   (forward: D[idx[b, j]], best first)
  generator   rows `<s> prefix (<MEM0..3><SEP>)×k suffix question… answer… </s>` built from ids, labels −100
              on the prompt, left padding (pad id 1, label −100); slot j of row b gets sel[b·k + j]
  splice      token embeddings with the memory positions overwritten (index_put)
  logits      forward with decoder_adapter on the spliced embeddings
  loss        next-token cross-entropy, logits[:, :-1] against labels[:, 1:], mean over kept targets
Trained: query_reasoner_adapter and decoder_adapter. encoder_adapter also requires grad here, to show
that it gets none (the bank was made under no_grad); the base (embedding table included) is frozen.

Tensors in the file (float32 unless said), shared by both temperatures:
  weights.<hf name>, adapter.<name>.<peft key>     base and the three adapters
  bank.input_ids, bank.attention_mask   int64 [6, T + n]   the documents' encoder rows
  bank                                  [6, n, d]          the compressed documents
  query.input_ids, query.attention_mask int64 [B, Tq + n]  the questions' encoder rows
  candidates                            int64 [B, N]       rows of the bank, question b's candidates
  generator.input_ids, generator.attention_mask, generator.labels   int64 [B, L]
  generator.memory_positions            int64 [B, k, n]
  q [B, n·d], candidate_vectors [B, N, n·d], s [B, N]
Per temperature, under the prefix `tau{τ}.` (`tau0.02.`, `tau1.`):
  logits_scaled [B, N] (l), idx int64 [B, k], H [B, k, N], P [B, k, N], W [B, k, N],
  selected [B·k, n, d], spliced_embeds [B, L, d], logits [B, L, V], loss [],
  grad.s [B, N] (dL/ds, retain_grad), grad.q [B, n·d] (dL/dq, retain_grad),
  grad.<adapter>.<peft key>             dL/d(every A and B) of query_reasoner_adapter and decoder_adapter
Metadata (JSON strings): config, lora, adapters, special, n_mem, doc_max_length, compression_rate,
k, temperatures, prefixes, qr_init, documents and questions (their ids, for the tests' id tokenizer),
"encoder_grads" = "none" and "base_grads" = "none" (their .grad stayed None at both temperatures).
"""
import json
import os

import torch
import torch.nn.functional as F

import record_clara_stage1 as s1
import record_mistral as rm
import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = [os.path.join(HERE, f) for f in
           ("record_clara_stage3.py", "record_clara_stage1.py", "record_mistral.py", "safetensors_io.py")]

CONFIG = dict(rm.CONFIG)
LORA = dict(s1.LORA)
ADAPTERS = ["encoder_adapter", "decoder_adapter", "query_reasoner_adapter"]
TRAINED = ["query_reasoner_adapter", "decoder_adapter"]
N_MEM = s1.N_MEM
K = 2
N_CANDIDATES = 5
DOC_LENGTHS = [7, 3, 10, 5, 8, 4]
QUESTION_LENGTHS = [5, 3]
ANSWER_LENGTHS = [3, 2]
TEMPERATURES = [0.02, 1.0]
QR_NOISE = 0.05
EMBED = s1.EMBED


def prefix(tau: float) -> str:
    return f"tau{tau:g}."


def generator_row(prefix_ids, suffix_ids, answer, k):
    """`<s> prefix (<MEM…><SEP>)×k suffix` is the prompt; `answer </s>` is supervised. Slot positions (k, n)."""
    slots_ids = []
    positions = []
    start = 1 + len(prefix_ids)
    for j in range(k):
        positions.append([start + j * (N_MEM + 1) + i for i in range(N_MEM)])
        slots_ids += s1.MEM + [s1.SEP]
    prompt = [s1.BOS, *prefix_ids, *slots_ids, *suffix_ids]
    ids = prompt + answer + [s1.EOS]
    labels = [-100] * len(prompt) + answer + [s1.EOS]
    return ids, labels, positions


def generator_batch(rows):
    width = max(len(r[0]) for r in rows)
    ids, mask, labels, positions = [], [], [], []
    for r_ids, r_labels, slots in rows:
        pad = width - len(r_ids)
        ids.append([s1.PAD] * pad + r_ids)
        mask.append([0] * pad + [1] * len(r_ids))
        labels.append([-100] * pad + r_labels)
        positions.append([[p + pad for p in slot] for slot in slots])
    return torch.tensor(ids), torch.tensor(mask), torch.tensor(labels), torch.tensor(positions)


def compress(base, adapter, ids, mask):
    """The last post-norm states at the n memory positions (the last n of every row): [rows, n, d]."""
    hidden, _ = s1.forward_embeds(base, adapter, CONFIG, base[EMBED][ids], mask)
    return hidden[:, ids.shape[1] - N_MEM:]


def straight_through_topk(s, k, tau):
    """Spec §6, the official estimator: (l, idx, H, P, W)."""
    l = s / max(tau, 1e-6)
    idx = l.topk(k, dim=-1).indices  # sorted, best first
    hard = F.one_hot(idx, l.shape[-1]).to(l.dtype)  # [B, k, N]
    taken = torch.zeros_like(l)
    soft = []
    for j in range(k):
        soft.append(torch.softmax(l + torch.log((1 - taken.detach()) + 1e-8), dim=-1))
        taken = torch.clamp(taken + hard[:, j], max=1)
    p = torch.stack(soft, 1)
    w = hard + (p - p.detach())
    return l, idx, hard, p, w


def record(fixtures_dir: str) -> list:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(20251126)
    c = CONFIG
    base = rm.init_base(c, g)
    adapters = {name: rm.init_adapter(c, g) for name in ADAPTERS[:2]}
    adapters["query_reasoner_adapter"] = {
        key: (v.double() + torch.randn(v.shape, generator=g, dtype=torch.float64) * QR_NOISE).float()
        for key, v in adapters["encoder_adapter"].items()}

    docs = [s1.ordinary(g, n) for n in DOC_LENGTHS]
    questions = [s1.ordinary(g, n) for n in QUESTION_LENGTHS]
    candidates = torch.stack([torch.randperm(len(docs), generator=g)[:N_CANDIDATES] for _ in questions])
    # Generator rows: a short prefix, the k slots, a suffix, the question, then the answer.
    # Different answer lengths, so the rows are padded differently.
    gen_rows = []
    for q_ids, answer_length in zip(questions, ANSWER_LENGTHS):
        prefix_ids, suffix_ids, answer = s1.ordinary(g, 2), s1.ordinary(g, 2), s1.ordinary(g, answer_length)
        gen_rows.append(generator_row(prefix_ids, suffix_ids + q_ids, answer, K))
    gen_ids, gen_mask, labels, gen_pos = generator_batch(gen_rows)
    bank_ids, bank_mask, _ = s1.encoder_batch(docs)
    q_ids, q_mask, _ = s1.encoder_batch(questions)

    tensors = {f"weights.{k}": v.clone() for k, v in base.items()}
    for name, ad in adapters.items():
        tensors.update({f"adapter.{name}.{k}": v.clone() for k, v in ad.items()})
    tensors.update({
        "bank.input_ids": bank_ids, "bank.attention_mask": bank_mask,
        "query.input_ids": q_ids, "query.attention_mask": q_mask, "candidates": candidates,
        "generator.input_ids": gen_ids, "generator.attention_mask": gen_mask, "generator.labels": labels,
        "generator.memory_positions": gen_pos,
    })

    # Every adapter could take a gradient; the base is frozen.
    for ad in adapters.values():
        for t in ad.values():
            t.requires_grad_(True)
    assert all(not t.requires_grad for t in base.values())

    with torch.no_grad():
        bank = compress(base, adapters["encoder_adapter"], bank_ids, bank_mask)  # [docs, n, d]
    tensors["bank"] = bank.clone()
    d = c["hidden_size"]
    B, N = candidates.shape

    for tau in TEMPERATURES:
        for ad in adapters.values():
            for t in ad.values():
                t.grad = None
        q = compress(base, adapters["query_reasoner_adapter"], q_ids, q_mask).reshape(B, -1)
        q.retain_grad()
        D = bank.reshape(len(docs), -1)[candidates]  # [B, N, n·d]
        s = (F.normalize(q, dim=-1, eps=1e-12)[:, None] @ F.normalize(D, dim=-1, eps=1e-12).transpose(1, 2)).squeeze(1)
        s.retain_grad()
        l, idx, hard, p, w = straight_through_topk(s, K, tau)
        assert torch.equal(w.detach(), hard), "W must be exactly the hard selection in the forward pass"
        # The choice must not hinge on a rounding step: the sorted scores are well apart.
        ordered = s.detach().sort(dim=-1, descending=True).values
        assert (ordered[:, :-1] - ordered[:, 1:]).min() > 1e-4, ordered  # ≈ 800 float32 ulps at 1
        sel = (w @ D).reshape(B * K, N_MEM, d)
        assert torch.equal(sel.detach(), bank[candidates.gather(1, idx).reshape(-1)])
        rows = torch.arange(B)[:, None].expand(-1, K * N_MEM).reshape(-1)
        cols = gen_pos.reshape(-1)
        spliced = base[EMBED][gen_ids].index_put((rows, cols), sel.reshape(-1, d))
        _, logits = s1.forward_embeds(base, adapters["decoder_adapter"], c, spliced, gen_mask)
        loss = rm.lm_loss(logits, labels)
        loss.backward()

        pre = prefix(tau)
        if pre == prefix(TEMPERATURES[0]):
            tensors.update({"q": q.detach().clone(), "candidate_vectors": D.detach().clone(), "s": s.detach().clone()})
        for name, value in {"logits_scaled": l, "idx": idx, "H": hard, "P": p, "W": w, "selected": sel,
                            "spliced_embeds": spliced, "logits": logits, "loss": loss,
                            "grad.s": s.grad, "grad.q": q.grad}.items():
            tensors[pre + name] = value.detach().clone()
        for name in TRAINED:
            for key, t in adapters[name].items():
                assert t.grad is not None and t.grad.abs().max() > 0, f"{tau}: {name}.{key} got no gradient"
                tensors[f"{pre}grad.{name}.{key}"] = t.grad.detach().clone()
        assert all(t.grad is None for t in adapters["encoder_adapter"].values()), "the compressor got a gradient"
        assert all(t.grad is None for t in base.values()), "a frozen weight got a gradient"

    meta = {
        "config": json.dumps(c), "lora": json.dumps(LORA), "adapters": json.dumps(ADAPTERS),
        "trained": json.dumps(TRAINED),
        "special": json.dumps({"unk": s1.UNK, "bos": s1.BOS, "eos": s1.EOS, "pad": s1.PAD, "mem": s1.MEM,
                               "ae": s1.AE, "enc": s1.ENC, "sep": s1.SEP}),
        "n_mem": str(N_MEM), "doc_max_length": str(s1.DOC_MAX_LENGTH), "compression_rate": str(s1.COMPRESSION_RATE),
        "k": str(K), "temperatures": json.dumps(TEMPERATURES), "prefixes": json.dumps([prefix(t) for t in TEMPERATURES]),
        "qr_init": f"copy of encoder_adapter + N(0, {QR_NOISE}^2) per element (perturbed, not an exact copy)",
        "documents": json.dumps(docs), "questions": json.dumps(questions),
        "encoder_grads": "none", "base_grads": "none", "torch": torch.__version__,
    }
    path = os.path.join(fixtures_dir, "clara", "stage3_tiny.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    safetensors_io.write(path, tensors, meta)
    return [path]
