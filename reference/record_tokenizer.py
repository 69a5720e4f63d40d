"""A tiny tokenizer in Mistral's form, and the token ids the official tokenization gives on fixed prompts.

Mistral-7B-Instruct-v0.2's tokenizer is a SentencePiece BPE model (`tokenizer.model`) with byte
fallback; its `tokenizer.json` is Hugging Face's conversion of that model (transformers'
LlamaConverter with `legacy=True`, Mistral's setting), and the official CLaRa code tokenizes with
that converted tokenizer after adding `<MEM0>`…`<MEM{n-1}>`, `<AE>`, `<ENC>`, `<SEP>` as special tokens
(apple/ml-clara, modeling_clara.py `_create_decoder_tokenizer`). Neither `transformers` nor
`tokenizers` exists here, so this recorder re-derives both halves with SentencePiece alone:

1. It trains a small SentencePiece BPE model in Mistral's settings (identity normalization, a dummy
   prefix, no removal of extra spaces, split digits, whitespace-only pieces, byte fallback, `<unk>`
   `<s>` `</s>` = 0 1 2, the 256 byte pieces `<0x00>`…`<0xFF>` = 3…258) on the small English corpus
   below, and writes it as `tokenizer.model`.
2. It converts it to `tokenizer.json` as LlamaConverter does in legacy mode: a BPE model with the
   SentencePiece vocabulary (ids unchanged) and the merges read off it (every split of a piece into
   two pieces of the vocabulary, ordered by the merged piece's score, best first), `fuse_unk` and
   `byte_fallback`; the normalizer `Prepend("▁")` then `Replace(" ", "▁")` and no pre-tokenizer; the
   decoder Replace("▁", " "), ByteFallback, Fuse, Strip(one leading space); `<s>` in front as the
   post-processor; `<unk>`, `<s>`, `</s>` as special added tokens. `tokenizer_config.json` carries
   Mistral-7B-Instruct-v0.2's chat template (its Jinja text, as published in the model's
   tokenizer_config.json) and Mistral's settings (`legacy: true`, `add_bos_token`, …).
3. It records, for each prompt below, the ids Hugging Face's tokenizer gives with
   `add_special_tokens=False`, derived from SentencePiece: the text is cut at every added token
   (leftmost, longest first), each added token is its one id, and each stretch between them is
   encoded by SentencePiece itself. In legacy mode the normalizer runs on every stretch, so every
   stretch gets the dummy prefix (`<s> [INST]` is `<s>` then `▁▁[INST]`), which is what
   SentencePiece's own add_dummy_prefix does to each stretch. It also records the text Hugging
   Face's decoder chain gives back for those ids, with and without special tokens.

The CLaRa prompts are rendered through the template by hand here (no Jinja in Python on this
machine): for a system and a user message the template gives
`<s> [INST] SYSTEM\n\nUSER [/INST]`, and ` ANSWER</s>` after it for an assistant message. The test
renders the same messages with the template itself (@huggingface/jinja) and checks the strings.

Files under test/fixtures/tokenizer/:
  mistral_tiny/{tokenizer.model, tokenizer.json, tokenizer_config.json}   the base tokenizer
  mistral_tiny_clara/{tokenizer.json, tokenizer_config.json}   the same with CLaRa's tokens already
      added (n = 4), as `save_pretrained` writes them in a released checkpoint folder
  expected.json   {nMem, addedTokens, prompts: [{name, text, messages?, addGenerationPrompt?, ids,
      decoded, decodedSkipSpecial}]}
"""
import io
import json
import os

import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = [os.path.join(HERE, "record_tokenizer.py")]

SPACE = "\u2581"
N_MEM = 4
VOCAB_SIZE = 700

# Mistral-7B-Instruct-v0.2's chat template, tokenizer_config.json "chat_template".
MISTRAL_CHAT_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}\n"
    "    {%- set system_message = messages[0]['content'] %}\n"
    "    {%- set loop_messages = messages[1:] %}\n"
    "{%- else %}\n"
    "    {%- set loop_messages = messages %}\n"
    "{%- endif %}\n"
    "\n"
    "{{- bos_token }}\n"
    "{%- for message in loop_messages %}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}\n"
    "        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}\n"
    "    {%- endif %}\n"
    "    {%- if message['role'] == 'user' %}\n"
    "        {%- if loop.first and system_message is defined %}\n"
    "            {{- ' [INST] ' + system_message + '\\n\\n' + message['content'] + ' [/INST]' }}\n"
    "        {%- else %}\n"
    "            {{- ' [INST] ' + message['content'] + ' [/INST]' }}\n"
    "        {%- endif %}\n"
    "    {%- elif message['role'] == 'assistant' %}\n"
    "        {{- ' ' + message['content'] + eos_token}}\n"
    "    {%- else %}\n"
    "        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}\n"
    "    {%- endif %}\n"
    "{%- endfor %}\n"
)

# The official prompts' fixed texts (modeling_clara.py), so the vocabulary has pieces for them.
QA_SYSTEM = "You are a helpful assistant. Given a document, your task is to generate some single questions to cover all key information of the document and answer them sequentially."
ANSWER_SYSTEM = "You are a helpful assistant. Your task is to extract relevant information from provided documents and to answer to questions as briefly as possible."
PARAPHRASE_SYSTEM = "You are a helpful assistant. Your task is follow the instructions to paraphrase the background information."

CORPUS = [
    QA_SYSTEM,
    ANSWER_SYSTEM,
    PARAPHRASE_SYSTEM,
    "Background: the river flows north through the valley and reaches the sea after three hundred miles.",
    "Question: Where was the author born? Answer: The author was born in a small town near the coast.",
    "Question: When did the bridge open? Answer: The bridge opened in 1957, after four years of work.",
    "The museum holds paintings, maps and letters written by the founders of the city.",
    "In other words, the essence of the background information is captured again in the following statement.",
    "Can you put the above sentences in your own terms? Please provide a reinterpretation of the text.",
    "These two expressions are equivalent in essence, and each is simply another rendition of the other.",
    "Hello world! This is a short test of the tokenizer, with numbers like 42 and 2026 and 3.14.",
    "She said that the library would be closed on Monday, but open again on Tuesday morning.",
    "Documents are compressed into memory tokens, and the generator reads them to answer questions.",
    "The quick brown fox jumps over the lazy dog while the cat sleeps in the warm afternoon sun.",
    "Retrieval finds the documents that are closest to the question, and the model answers from them.",
    "A train leaves the station at nine o'clock and arrives in the capital two hours later.",
    "Scientists measured the temperature of the lake every day for a year and wrote down the results.",
    "Players from twelve countries took part in the tournament, which ended with a surprise winner.",
    "The recipe needs flour, sugar, three eggs, butter and a pinch of salt; bake it for forty minutes.",
    "What is the capital of France? Paris is the capital and the largest city of the country.",
    "    indented  by four spaces,  then two:  the pieces of runs of spaces.",
    # Mistral's chat markers, so that the vocabulary has pieces for them (`▁[`, `INST`, `]`).
    "[INST] Summarize the text below. [/INST] The text is about a river. [INST] And the bridge? [/INST] It opened in 1957.",
    "[INST] Who wrote the letters? [/INST] The founders of the city. [INST] When? [/INST] Long ago.",
]

# (name, text): plain strings, and strings with the added tokens inside.
MEMS = "".join(f"<MEM{i}>" for i in range(N_MEM))
PLAIN_PROMPTS = [
    ("plain", "Hello world"),
    ("sentence", "The quick brown fox jumps over the lazy dog."),
    ("leading_space", " leading space"),
    ("leading_spaces", "   three leading spaces"),
    ("trailing_space", "trailing space "),
    ("double_spaces", "double  spaces  inside"),
    ("only_spaces", "   "),
    ("newlines", "line one\nline two\n\nline four\n"),
    ("tabs", "tabs\tand\ttabs"),
    ("digits", "Numbers 1234567 and 3.14159, dates 2026-12-07, 0.5%."),
    ("punctuation", "Punctuation: (a) [b] {c}; 'single' \"double\" - dash... !? #@&*"),
    ("unicode", "Unicode: café, naïve, Zürich, Ελληνικά, 東京, русский"),
    ("emoji", "Emoji \U0001F642\U0001F680 and a family \U0001F468\u200D\U0001F469\u200D\U0001F467!"),
    ("unknown_words", "Zorbek Quuxly visited Xanthorpe in 1899"),
    ("mem_slots", MEMS + "<SEP>" + MEMS + "<SEP>"),
    ("encoder_layout", "<ENC><s>The river flows north through the valley.</s>" + MEMS),
    ("added_then_space", "before<MEM0> after <SEP> end"),
    ("added_in_word", "wo<AE>rd<ENC>x"),
    ("base_specials", "<s> [INST] Hello [/INST] Hi</s> [INST] again [/INST]"),
    ("unk_text", "an <unk> inside"),
    ("not_added", "<MEM10> and <MEM> and <mem0> are text"),
    ("answer_layout", "Background:\n" + MEMS + "<SEP>\n\nQuestion:Who built the bridge?"),
]


def chat(system, user, answer=None):
    """The messages, and the string the template renders for them (see the module docstring)."""
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    text = f"<s> [INST] {system}\n\n{user} [/INST]"
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
        text += f" {answer}</s>"
    return messages, text


def chat_prompts():
    """The CLaRa generator layouts of modeling_clara.py `_blend_*`, with k = 1 or 2 document slots."""
    slots = lambda k: (MEMS + "<SEP>") * k  # noqa: E731
    cases = [
        ("chat_stage1_qa_prompt", QA_SYSTEM, f"Background:\n{slots(1)}", None),
        (
            "chat_stage1_qa_row",
            QA_SYSTEM,
            f"Background:\n{slots(1)}",
            "Question: When did the bridge open?\nAnswer: In 1957.\nQuestion: Who built it?\nAnswer: The city.",
        ),
        ("chat_paraphrase_row", PARAPHRASE_SYSTEM, f"Background: {slots(1)} means the same as", "The river flows north."),
        ("chat_answer_prompt", ANSWER_SYSTEM, f"Background:\n{slots(2)}\n\nQuestion:Where was the author born?", None),
        ("chat_answer_row", ANSWER_SYSTEM, f"Background:\n{slots(2)}\n\nQuestion:Where was the author born?", "Near the coast."),
    ]
    out = []
    for name, system, user, answer in cases:
        messages, text = chat(system, user, answer)
        out.append((name, text, messages, answer is None))
    return out


def train_model():
    # From memory to memory: a file path would be written into the model's trainer_spec.
    model = io.BytesIO()
    # Mistral's trainer and normalizer settings (its tokenizer.model), at a toy vocabulary size.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS),
        model_writer=model,
        model_type="bpe",
        vocab_size=VOCAB_SIZE,
        hard_vocab_limit=False,
        character_coverage=1.0,
        normalization_rule_name="identity",
        add_dummy_prefix=True,
        remove_extra_whitespaces=False,
        split_digits=True,
        allow_whitespace_only_pieces=True,
        byte_fallback=True,
        max_sentencepiece_length=16,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        shuffle_input_sentence=False,
        minloglevel=2,
    )
    return model.getvalue()


def piece_table(sp):
    """[(piece, score, kind)] in id order; kind is 'normal', 'control', 'unknown' or 'byte'."""
    table = []
    for i in range(sp.get_piece_size()):
        kind = "control" if sp.is_control(i) else "unknown" if sp.is_unknown(i) else "byte" if sp.is_byte(i) else "normal"
        table.append((sp.id_to_piece(i), sp.get_score(i), kind))
    return table


def merges_of(table):
    """LlamaConverter's merges: each split of a piece into two vocabulary pieces, best score first."""
    vocab = {piece: i for i, (piece, _, _) in enumerate(table)}
    merges = []
    for piece, score, kind in table:
        if kind != "normal":
            continue
        local = [(piece[:k], piece[k:]) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        local.sort(key=lambda lr: (vocab[lr[0]], vocab[lr[1]]))
        merges.extend((score, left, right) for left, right in local)
    merges.sort(key=lambda m: -m[0])  # stable: ties keep the order above
    return [f"{left} {right}" for _, left, right in merges]


def added_token(i, content):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}


def tokenizer_json(table, added):
    vocab = {piece: i for i, (piece, _, _) in enumerate(table)}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [added_token(i, c) for i, c in added],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [{"type": "Prepend", "prepend": SPACE}, {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}],
        },
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [
                {"SpecialToken": {"id": "<s>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "<s>", "type_id": 1}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
        },
        "decoder": {
            "type": "Sequence",
            "decoders": [
                {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0},
            ],
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<unk>",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merges_of(table),
        },
    }


def tokenizer_config(added, additional):
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": {str(i): {k: v for k, v in added_token(i, c).items() if k != "id"} for i, c in added},
        "additional_special_tokens": additional,
        "bos_token": "<s>",
        "chat_template": MISTRAL_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "</s>",
        "legacy": True,
        "model_max_length": 1000000000000000019884624838656,
        "pad_token": None,
        "sp_model_kwargs": {},
        "spaces_between_special_tokens": False,
        "tokenizer_class": "LlamaTokenizer",
        "unk_token": "<unk>",
        "use_default_system_prompt": False,
    }


def hf_encode(sp, text, added):
    """Hugging Face's legacy encoding without special tokens: cut at added tokens, SentencePiece between."""
    by_content = {c: i for i, c in added}
    contents = sorted(by_content, key=len, reverse=True)
    ids, start, i = [], 0, 0
    while i < len(text):
        match = next((c for c in contents if text.startswith(c, i)), None)
        if match is None:
            i += 1
            continue
        if i > start:
            ids += sp.encode(text[start:i])
        ids.append(by_content[match])
        i += len(match)
        start = i
    if start < len(text):
        ids += sp.encode(text[start:])
    return ids


def hf_decode(table, added, ids, skip_special):
    """The converted decoder chain: ▁ → space, byte pieces fused into UTF-8, one leading space off."""
    by_id = dict(added)
    out, pending = [], bytearray()
    for i in ids:
        if i in by_id:
            if skip_special:
                continue
            token = by_id[i]
        elif table[i][2] == "byte":
            pending.append(int(table[i][0][3:5], 16))
            continue
        else:
            token = table[i][0].replace(SPACE, " ")
        if pending:
            out.append(pending.decode("utf-8", errors="replace"))
            pending = bytearray()
        out.append(token)
    if pending:
        out.append(pending.decode("utf-8", errors="replace"))
    text = "".join(out)
    return text[1:] if text.startswith(" ") else text


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False, indent=1)
        f.write("\n")


def record(fixtures_dir):
    out = os.path.join(fixtures_dir, "tokenizer")
    base_dir, clara_dir = os.path.join(out, "mistral_tiny"), os.path.join(out, "mistral_tiny_clara")
    for d in (base_dir, clara_dir):
        os.makedirs(d, exist_ok=True)
    model = train_model()
    sp = spm.SentencePieceProcessor(model_proto=model)
    table = piece_table(sp)
    assert [p for p, _, _ in table[:3]] == ["<unk>", "<s>", "</s>"] and table[3][0] == "<0x00>" and table[258][0] == "<0xFF>"

    base_added = [(0, "<unk>"), (1, "<s>"), (2, "</s>")]
    # _create_decoder_tokenizer: add_special_tokens({'additional_special_tokens': mem + ['<AE>', '<ENC>', '<SEP>']}),
    # new ids from len(tokenizer) on.
    clara_tokens = [f"<MEM{i}>" for i in range(N_MEM)] + ["<AE>", "<ENC>", "<SEP>"]
    clara_added = base_added + [(len(table) + k, c) for k, c in enumerate(clara_tokens)]

    files = [os.path.join(base_dir, "tokenizer.model"), os.path.join(base_dir, "tokenizer.json"), os.path.join(base_dir, "tokenizer_config.json")]
    with open(files[0], "wb") as f:
        f.write(model)
    write_json(files[1], tokenizer_json(table, base_added))
    write_json(files[2], tokenizer_config(base_added, []))
    files += [os.path.join(clara_dir, "tokenizer.json"), os.path.join(clara_dir, "tokenizer_config.json")]
    write_json(files[3], tokenizer_json(table, clara_added))
    write_json(files[4], tokenizer_config(clara_added, clara_tokens))

    prompts = []
    for name, text in PLAIN_PROMPTS:
        prompts.append({"name": name, "text": text})
    for name, text, messages, generation in chat_prompts():
        prompts.append({"name": name, "text": text, "messages": messages, "addGenerationPrompt": generation})
    for p in prompts:
        ids = hf_encode(sp, p["text"], clara_added)
        p["ids"] = ids
        p["decoded"] = hf_decode(table, clara_added, ids, False)
        p["decodedSkipSpecial"] = hf_decode(table, clara_added, ids, True)
    expected = os.path.join(out, "expected.json")
    write_json(expected, {"nMem": N_MEM, "vocabSize": len(table), "addedTokens": [{"id": i, "content": c} for i, c in clara_added], "prompts": prompts})
    files.append(expected)
    return files
