/**
 * A seeded synthetic corpus for training CLaRa from scratch, as typed rows of the three stages'
 * formats (writeSynthCorpus.ts writes them as files).
 *
 * Invented people, each with 2–4 facts (birthplace, birth year, job, favourite colour, pet), one
 * short document per person (~20 words), one question per fact with a one-word answer. Names are
 * invented and full names are unique, so each question is answered by exactly one document. By
 * default every surname is new; with `namePool` first names and surnames come from small shared
 * pools, so that only the pair identifies a person. For a share of the people one fact is **held
 * out**: its question appears in no training target (no stage-1 QA row, no paraphrase, no stage-2
 * or stage-3 training row), while the document still states it, so answers can be scored on facts
 * the model was never trained to answer (`reconstructWhole` puts the fact's sentence, not its
 * question, back into the document-reconstruction target).
 *
 * Everything is drawn from one `Generator(seed)`, in a fixed order: the same options give the same
 * corpus, byte for byte.
 */
import { Generator } from '../../engine/index.ts';
import type { Stage1Row } from './stage1Data.ts';
import type { Stage2Row } from './stage2Data.ts';
import type { Stage3Row } from './stage3Data.ts';

export interface SynthOptions {
  seed?: number;
  /** Number of people (documents). Must be at least `candidates`. Default 300. */
  entities?: number;
  /** Facts per person, drawn uniformly in [minFacts, maxFacts]. Defaults 2 and 4 (at most 5). */
  minFacts?: number;
  maxFacts?: number;
  /** Share of people that get one fact held out (only people with ≥ 2 facts qualify). Default 0.5. */
  heldOutShare?: number;
  /** N, candidate documents per stage-3 question. Default 20. */
  candidates?: number;
  /** k, documents per stage-2 question. Default 5. */
  generationTopK?: number;
  /**
   * Stage-1 `qa` rows: `'per-question'` (default, what worked at toy scale) writes one row per
   * trained question; `'per-document'` one row per document with all its trained questions, as the
   * official data does.
   */
  qaRows?: 'per-question' | 'per-document';
  /** Write a stage-1 `paraphrase` row per document (its trained facts; see `paraphraseTarget`). Default true. */
  paraphraseRows?: boolean;
  /**
   * The target of those rows: `'reworded'` (default) the other wording of each trained fact, in a
   * shuffled order; `'reconstruction'` the document's own sentences for its trained facts, in its
   * order (document reconstruction, as the toy-scale trial trained; the held-out fact's sentence is
   * left out, so it stays out of every training target).
   */
  paraphraseTarget?: 'reworded' | 'reconstruction';
  /**
   * With `paraphraseTarget: 'reconstruction'`, reconstruct the whole document, the held-out fact's
   * sentence included (default false). The held-out question still appears in no training target;
   * the fact's value then has passed through the memory vectors in stage 1, as in the paper's
   * stage 1, which reconstructs whole documents, and a held-out question asks the generator to find
   * in them a value it was never asked about.
   */
  reconstructWhole?: boolean;
  /**
   * 0 (default): every person gets a new surname. P > 0: first names and surnames are drawn from two
   * pools of P invented words each, and only the full name is unique (needs P² ≥ entities). With a
   * new word per person, that one token is a key a small generator can memorise (name → value)
   * without reading the document; with shared pools, only a pair of tokens is, and reading the
   * document is the easier way to answer.
   */
  namePool?: number;
  /**
   * Stage-3 training rows: `'one'` (default) one row per trained question, in its drawn wording;
   * `'both'` also a row per trained fact in the other question wording (appended, its candidates
   * drawn after the held-out rows', so every other file is unchanged). Stage 3 learns retrieval
   * from questions alone; asking each fact two ways shows the query reasoner that the wording does
   * not say which document answers, the name does. Stage 1 and the held-out rows are unaffected.
   */
  stage3Wordings?: 'one' | 'both';
  /**
   * People invented for stage 1 only (default 0): their documents and a question about each of
   * their facts become stage-1 rows (`qa` rows as `qaRows` says, and a paraphrase row whose target
   * follows `paraphraseTarget`, the whole document for reconstruction), after the corpus's own rows.
   * They are not in `documents`, never a candidate, and in no stage-2 or stage-3 row; their names
   * come from the same pools and their values from the same towns, jobs, colours and pets. This is
   * the paper's setting: the compressor is pretrained on a large corpus of documents nobody is later
   * asked about. Seen once or twice each, they cannot be memorised: the only way to answer is to
   * read the value from the memory vectors, which is what held-out facts need. Drawn after everything
   * else, so the corpus itself is the same with or without them.
   */
  pretrainEntities?: number;
  /**
   * Counterfactual copies of the corpus for stage 1 (default 0): C > 0 adds, C times over, a copy of
   * every person with each value drawn anew (same name, attributes and held-out fact), its document
   * and its stage-1 rows as the corpus's own (no held-out question asked). A name then comes with
   * C + 1 sets of values, so the generator cannot answer from the name it reads in the memory and a
   * value it memorised: it has to read the value. They are in no other stage's rows. Drawn after
   * everything else, so the corpus itself is the same with or without them.
   */
  counterfactuals?: number;
}

export type Attribute = 'birthplace' | 'birthYear' | 'job' | 'colour' | 'pet';
const ATTRIBUTES: readonly Attribute[] = ['birthplace', 'birthYear', 'job', 'colour', 'pet'];

interface Fact {
  attribute: Attribute;
  /** One word: a town, a year, a job, a colour or an animal. */
  value: string;
  /** True when this fact's question is kept out of every training target. */
  heldOut: boolean;
}

interface Entity {
  /** Index of the person, and of their document in `documents`. */
  id: number;
  firstName: string;
  lastName: string;
  fullName: string;
  facts: Fact[];
}

interface SynthQuestion {
  /** Stable id, `q{entity}-{attribute}`. */
  id: string;
  entityId: number;
  attribute: Attribute;
  question: string;
  answer: string;
  heldOut: boolean;
}

export interface SyntheticCorpus {
  options: Required<SynthOptions>;
  entities: Entity[];
  /** `documents[i]` describes `entities[i]`. */
  documents: string[];
  /** Every fact's question, trained and held out, in entity order. */
  questions: SynthQuestion[];
  /** Stage-1 rows: `qa` rows then `paraphrase` rows, held-out facts excluded. */
  stage1: Stage1Row[];
  /** Stage-2 rows for trained questions: k documents including the gold one. */
  stage2: Stage2Row[];
  /**
   * Stage-3 rows for trained questions: N candidates, `pos_index` = [gold position]; with
   * `stage3Wordings: 'both'`, followed by the same questions in their other wording.
   */
  stage3Train: Stage3Row[];
  /** Stage-3 rows for held-out questions (evaluation only). */
  stage3HeldOut: Stage3Row[];
}

const DEFAULTS: Required<SynthOptions> = {
  seed: 0,
  entities: 300,
  minFacts: 2,
  maxFacts: 4,
  heldOutShare: 0.5,
  candidates: 20,
  generationTopK: 5,
  qaRows: 'per-question',
  paraphraseRows: true,
  paraphraseTarget: 'reworded',
  reconstructWhole: false,
  namePool: 0,
  stage3Wordings: 'one',
  pretrainEntities: 0,
  counterfactuals: 0,
};

const JOBS = [
  'baker',
  'carpenter',
  'teacher',
  'nurse',
  'pilot',
  'farmer',
  'painter',
  'plumber',
  'tailor',
  'sailor',
  'doctor',
  'lawyer',
  'chemist',
  'miner',
  'potter',
  'weaver',
  'butcher',
  'jeweller',
  'librarian',
  'architect',
];
const COLOURS = ['red', 'blue', 'green', 'yellow', 'purple', 'orange', 'pink', 'brown', 'black', 'white', 'grey', 'teal'];
const PETS = ['dog', 'cat', 'parrot', 'rabbit', 'horse', 'goat', 'turtle', 'hamster', 'owl', 'iguana'];
const TOWN_COUNT = 24;

/** Two wordings per attribute; a document uses one, its paraphrase the other. `{a}` is a/an. */
const SENTENCES: Record<Attribute, readonly [string, string]> = {
  birthplace: ['{name} was born in {value}.', '{name} comes from the town of {value}.'],
  birthYear: ['{name} was born in the year {value}.', 'The birth year of {name} is {value}.'],
  job: ['{name} works as {a} {value}.', 'By trade, {name} is {a} {value}.'],
  colour: ['The favourite colour of {name} is {value}.', '{name} likes the colour {value} best.'],
  pet: ['{name} keeps {a} {value} as a pet.', 'At home, {name} looks after {a} {value}.'],
};

/** The two wordings of each attribute's question; `{name}` is the full name. */
export const QUESTION_WORDINGS: Record<Attribute, readonly [string, string]> = {
  birthplace: ['Where was {name} born?', 'Which town does {name} come from?'],
  birthYear: ['In which year was {name} born?', 'What is the birth year of {name}?'],
  job: ['What is the job of {name}?', 'What does {name} do for a living?'],
  colour: ['What is the favourite colour of {name}?', 'Which colour does {name} like best?'],
  pet: ['Which pet does {name} keep?', 'What animal does {name} look after?'],
};

export function generateSyntheticCorpus(options: SynthOptions = {}): SyntheticCorpus {
  const opts = { ...DEFAULTS, ...options };
  checkOptions(opts);
  const rng = new Generator(opts.seed);
  const words = new InventedWords(rng);
  const towns = Array.from({ length: TOWN_COUNT }, () => words.town());

  // People and their facts.
  const pools = opts.namePool > 0 ? pooledNames(rng, words, opts.namePool) : undefined;
  const entities: Entity[] = [];
  /** A new person: a name, then 2–4 distinct attributes and their values. */
  const drawPerson = (id: number): Entity => {
    const [firstName, lastName] = pools === undefined ? [words.firstName(), words.uniqueName()] : pools.next();
    const factCount = opts.minFacts + rng.int(opts.maxFacts - opts.minFacts + 1);
    const attributes = rng.shuffle([...ATTRIBUTES]).slice(0, factCount);
    const facts = attributes.map((attribute) => ({ attribute, value: drawValue(rng, attribute, towns), heldOut: false }));
    return { id, firstName, lastName, fullName: `${firstName} ${lastName}`, facts };
  };
  for (let id = 0; id < opts.entities; id++) entities.push(drawPerson(id));

  // Hold out one fact for a share of the people who have at least two.
  const eligible = rng.shuffle(entities.filter((e) => e.facts.length >= 2).map((e) => e.id));
  const heldOutCount = Math.min(eligible.length, Math.round(opts.heldOutShare * opts.entities));
  for (const id of eligible.slice(0, heldOutCount)) {
    const facts = entities[id]!.facts;
    facts[rng.int(facts.length)]!.heldOut = true;
  }

  // Documents (one wording per fact) and paraphrases (the other wording, trained facts only).
  const documents: string[] = [];
  const paraphrases: string[] = [];
  for (const entity of entities) {
    const wordings = entity.facts.map(() => rng.int(2));
    documents.push(describe(entity, entity.facts, wordings));
    const trained = entity.facts.map((fact, i) => ({ fact, wording: wordings[i]! })).filter((x) => !x.fact.heldOut);
    const reworded = rng.shuffle(trained.map((x) => ({ ...x, wording: 1 - x.wording })));
    const whole = entity.facts.map((fact, i) => ({ fact, wording: wordings[i]! }));
    const target = opts.paraphraseTarget === 'reworded' ? reworded : opts.reconstructWhole ? whole : trained;
    paraphrases.push(
      describe(
        entity,
        target.map((x) => x.fact),
        target.map((x) => x.wording),
      ),
    );
  }

  // One question per fact.
  // One question per fact, and the same question in its other wording (for `stage3Wordings`).
  const questions: SynthQuestion[] = [];
  const reworded: SynthQuestion[] = [];
  for (const entity of entities) {
    for (const fact of entity.facts) {
      const [asked, other] = rng.int(2) === 0 ? QUESTION_WORDINGS[fact.attribute] : [...QUESTION_WORDINGS[fact.attribute]].reverse();
      const question: SynthQuestion = {
        id: `q${entity.id}-${fact.attribute}`,
        entityId: entity.id,
        attribute: fact.attribute,
        question: asked!.replace('{name}', entity.fullName),
        answer: fact.value,
        heldOut: fact.heldOut,
      };
      questions.push(question);
      reworded.push({ ...question, question: other!.replace('{name}', entity.fullName) });
    }
  }
  const trainedQuestions = questions.filter((q) => !q.heldOut);

  // Stage 1: QA rows over trained questions, then paraphrase rows.
  const stage1: Stage1Row[] = [];
  for (const entity of entities) {
    const own = trainedQuestions.filter((q) => q.entityId === entity.id);
    if (own.length === 0) continue;
    const docs = [documents[entity.id]!];
    if (opts.qaRows === 'per-document') {
      stage1.push({ dataType: 'qa', docs, questions: own.map((q) => q.question), answers: own.map((q) => q.answer) });
    } else {
      for (const q of own) stage1.push({ dataType: 'qa', docs, questions: [q.question], answers: [q.answer] });
    }
  }
  if (opts.paraphraseRows) {
    for (const entity of entities) {
      if (paraphrases[entity.id]!.length === 0) continue;
      stage1.push({ dataType: 'paraphrase', docs: [documents[entity.id]!], paraphrase: paraphrases[entity.id]! });
    }
  }

  // Stages 2 and 3: the gold document among randomly drawn others, at a random place.
  const withCandidates = (q: SynthQuestion, count: number) => {
    const ids = drawCandidates(rng, q.entityId, count, opts.entities);
    return { docs: ids.map((i) => documents[i]!), gold: ids.indexOf(q.entityId) };
  };
  const stage2: Stage2Row[] = trainedQuestions.map((q) => {
    const { docs } = withCandidates(q, opts.generationTopK);
    return { question: q.question, docs, answer: q.answer, goldAnswer: q.answer };
  });
  const stage3 = (q: SynthQuestion): Stage3Row => {
    const { docs, gold } = withCandidates(q, opts.candidates);
    return { question: q.question, docs, answer: q.answer, posIndex: [gold] };
  };
  const stage3Train = trainedQuestions.map(stage3);
  const stage3HeldOut = questions.filter((q) => q.heldOut).map(stage3);
  if (opts.stage3Wordings === 'both') stage3Train.push(...reworded.filter((q) => !q.heldOut).map(stage3));
  for (let i = 0; i < opts.pretrainEntities; i++) stage1.push(...extraPersonRows(rng, drawPerson(opts.entities + i), opts));
  for (let copy = 0; copy < opts.counterfactuals; copy++) {
    for (const entity of entities) {
      const facts = entity.facts.map((fact) => ({ ...fact, value: drawValue(rng, fact.attribute, towns) }));
      stage1.push(...extraPersonRows(rng, { ...entity, facts }, opts));
    }
  }

  return { options: opts, entities, documents, questions, stage1, stage2, stage3Train, stage3HeldOut };
}

/**
 * Stage-1 rows about one person outside the corpus's own rows (a pretraining person, or a
 * counterfactual copy): its `qa` rows over the facts not held out, as `qaRows` says, then its
 * paraphrase row, whose target follows `paraphraseTarget` (and `reconstructWhole`) as the corpus's
 * rows do.
 */
function extraPersonRows(rng: Generator, entity: Entity, opts: Required<SynthOptions>): Stage1Row[] {
  const rows: Stage1Row[] = [];
  const facts = entity.facts;
  const wordings = facts.map(() => rng.int(2));
  const docs = [describe(entity, facts, wordings)];
  const asked = facts.map((_, j) => j).filter((j) => !facts[j]!.heldOut);
  const questions = asked.map((j) => QUESTION_WORDINGS[facts[j]!.attribute][rng.int(2)]!.replace('{name}', entity.fullName));
  const answers = asked.map((j) => facts[j]!.value);
  if (opts.qaRows === 'per-document') rows.push({ dataType: 'qa', docs, questions, answers });
  else for (const [i, q] of questions.entries()) rows.push({ dataType: 'qa', docs, questions: [q], answers: [answers[i]!] });
  if (opts.paraphraseRows) {
    // As the corpus's rows: the other wording of each trained fact in a shuffled order, or the document's own sentences.
    const reconstruct = opts.paraphraseTarget === 'reconstruction';
    const order = reconstruct ? (opts.reconstructWhole ? facts.map((_, j) => j) : asked) : rng.shuffle(asked);
    const paraphrase = describe(
      entity,
      order.map((j) => facts[j]!),
      order.map((j) => (reconstruct ? wordings[j]! : 1 - wordings[j]!)),
    );
    rows.push({ dataType: 'paraphrase', docs, paraphrase });
  }
  return rows;
}

function checkOptions(opts: Required<SynthOptions>): void {
  const positiveInteger = (name: string, value: number) => {
    if (!Number.isInteger(value) || value < 1) throw new Error(`synth: ${name} must be a positive integer, got ${value}`);
  };
  positiveInteger('entities', opts.entities);
  positiveInteger('candidates', opts.candidates);
  positiveInteger('generationTopK', opts.generationTopK);
  positiveInteger('minFacts', opts.minFacts);
  if (!Number.isInteger(opts.maxFacts) || opts.maxFacts < opts.minFacts || opts.maxFacts > ATTRIBUTES.length) {
    throw new Error(`synth: maxFacts must be an integer in [minFacts, ${ATTRIBUTES.length}], got ${opts.maxFacts}`);
  }
  if (opts.paraphraseTarget !== 'reworded' && opts.paraphraseTarget !== 'reconstruction') {
    throw new Error(`synth: paraphraseTarget must be 'reworded' or 'reconstruction', got '${String(opts.paraphraseTarget)}'`);
  }
  if (!(opts.heldOutShare >= 0 && opts.heldOutShare <= 1)) throw new Error(`synth: heldOutShare must be in [0, 1], got ${opts.heldOutShare}`);
  if (opts.stage3Wordings !== 'one' && opts.stage3Wordings !== 'both') {
    throw new Error(`synth: stage3Wordings must be 'one' or 'both', got '${String(opts.stage3Wordings)}'`);
  }
  if (!Number.isInteger(opts.namePool) || opts.namePool < 0) throw new Error(`synth: namePool must be a non-negative integer, got ${opts.namePool}`);
  if (!Number.isInteger(opts.pretrainEntities) || opts.pretrainEntities < 0) {
    throw new Error(`synth: pretrainEntities must be a non-negative integer, got ${opts.pretrainEntities}`);
  }
  if (!Number.isInteger(opts.counterfactuals) || opts.counterfactuals < 0) {
    throw new Error(`synth: counterfactuals must be a non-negative integer, got ${opts.counterfactuals}`);
  }
  const people = opts.entities + opts.pretrainEntities;
  if (opts.namePool > 0 && opts.namePool ** 2 < people) {
    const who = opts.pretrainEntities > 0 ? `entities + pretrainEntities (${people})` : `entities (${opts.entities})`;
    throw new Error(`synth: namePool ${opts.namePool} gives ${opts.namePool ** 2} full names, fewer than ${who}`);
  }
  if (opts.candidates > opts.entities || opts.generationTopK > opts.entities) {
    throw new Error(`synth: candidates (${opts.candidates}) and generationTopK (${opts.generationTopK}) cannot exceed entities (${opts.entities})`);
  }
}

function drawValue(rng: Generator, attribute: Attribute, towns: readonly string[]): string {
  const pick = (list: readonly string[]) => list[rng.int(list.length)]!;
  switch (attribute) {
    case 'birthplace':
      return pick(towns);
    case 'birthYear':
      return String(1900 + rng.int(100));
    case 'job':
      return pick(JOBS);
    case 'colour':
      return pick(COLOURS);
    case 'pet':
      return pick(PETS);
  }
}

/** Full names from two pools of `size` first names and surnames, each pair handed out once. */
function pooledNames(rng: Generator, words: InventedWords, size: number): { next(): [string, string] } {
  const firstNames = Array.from({ length: size }, () => words.uniqueName());
  const surnames = Array.from({ length: size }, () => words.uniqueName());
  const taken = new Set<number>();
  return {
    next() {
      for (;;) {
        const first = rng.int(size);
        const last = rng.int(size);
        if (!taken.has(first * size + last)) {
          taken.add(first * size + last);
          return [firstNames[first]!, surnames[last]!];
        }
      }
    },
  };
}

/** Sentences for the given facts; the first names the person in full, the others by first name. */
function describe(entity: Entity, facts: readonly Fact[], wordings: readonly number[]): string {
  return facts
    .map((fact, i) => {
      const name = i === 0 ? entity.fullName : entity.firstName;
      let sentence = SENTENCES[fact.attribute][wordings[i]!]!;
      sentence = sentence.replace('{a}', /^[aeiou]/.test(fact.value) ? 'an' : 'a').replace('{value}', fact.value);
      return sentence.replace('{name}', name);
    })
    .join(' ');
}

/** `count` distinct document ids including `gold`, in random order. */
function drawCandidates(rng: Generator, gold: number, count: number, total: number): number[] {
  const chosen = new Set<number>([gold]);
  while (chosen.size < count) chosen.add(rng.int(total));
  return rng.shuffle([...chosen]);
}

/**
 * Pronounceable invented words. Every word handed out is new (a first name may repeat across people,
 * but a surname never does, and no name equals a town), so a question names exactly one person.
 */
class InventedWords {
  private readonly used = new Set<string>();
  private readonly firstNames = new Set<string>();
  private static readonly ONSETS = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'br', 'dr', 'gr', 'kr', 'st', 'th'];
  private static readonly VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ei', 'ou'];
  private static readonly CODAS = ['', '', 'n', 'r', 'l', 's', 'm', 'k'];
  private static readonly TOWN_ENDINGS = ['ford', 'holm', 'by', 'ton', 'mar', 'wick', 'stead', 'mouth'];

  constructor(private readonly rng: Generator) {}

  /** First names may be shared; they are only ever used inside their own document. */
  firstName(): string {
    for (;;) {
      const word = this.word(2);
      if (!this.used.has(word) || this.firstNames.has(word)) {
        this.firstNames.add(word);
        this.used.add(word);
        return word;
      }
    }
  }

  /** A word never handed out before. */
  uniqueName(): string {
    return this.fresh(() => this.word(2 + this.rng.int(2)));
  }

  town(): string {
    return this.fresh(() => this.word(1 + this.rng.int(2)) + this.pick(InventedWords.TOWN_ENDINGS));
  }

  private fresh(make: () => string): string {
    for (;;) {
      const word = make();
      if (!this.used.has(word)) {
        this.used.add(word);
        return word;
      }
    }
  }

  private word(syllables: number): string {
    let word = '';
    for (let i = 0; i < syllables; i++) {
      word += this.pick(InventedWords.ONSETS) + this.pick(InventedWords.VOWELS) + this.pick(InventedWords.CODAS);
    }
    return word[0]!.toUpperCase() + word.slice(1);
  }

  private pick(list: readonly string[]): string {
    return list[this.rng.int(list.length)]!;
  }
}
