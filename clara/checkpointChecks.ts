/**
 * Checks on a CLaRa model directory as it is read back (ClaraModel.load) and written
 * (ClaraModel.save): a checkpoint may come from anywhere, so nothing in it is trusted. Each error
 * names the file and the field at fault.
 *
 * - adapter names become folder names (`adapters/<name>/`): a name must be one plain folder name, so
 *   that `../../elsewhere` can never make a save or a load reach outside the model directory;
 * - clara.json's settings must have their types and ranges (a string for a length, a top-k of 0
 *   would fail much later, or never, with wrong numbers);
 * - the tokenizer must have the memory tokens the settings imply;
 * - every weight must be finite (clara/model/checkpoint.ts checks them as it reads them).
 */
import type { Tokenizer } from './tokenizer/tokenizer.ts';

/** The settings checked here (claraModel.ts's ClaraSettings, which imports this file). */
interface CheckedSettings {
  docMaxLength: number;
  compressionRate: number;
  questionMaxLength: number;
  generationTopK: number;
  lora: { r: number; alpha: number; dropout: number };
  stage: number;
}

/** A plain folder name: letters, digits, `_`, `-`, `.`, not starting with a dot. */
const ADAPTER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Throws unless `name` can be used as a folder name inside the model directory. */
export function checkAdapterName(name: unknown, where: string): string {
  if (typeof name !== 'string' || !ADAPTER_NAME.test(name)) {
    throw new Error(`${where}: adapter name ${JSON.stringify(name)} is not a plain folder name (letters, digits, _ - . and no leading dot)`);
  }
  return name;
}

/** clara.json's contents, checked: the settings (over `defaults`) and the adapter names. */
export function checkClaraJson<S extends CheckedSettings>(raw: unknown, file: string, defaults: S): { settings: S; adapters: string[] } {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${file}: expected a JSON object`);
  const { adapters = [], ...given } = raw as Record<string, unknown>;
  if (!Array.isArray(adapters)) throw new Error(`${file}: field "adapters" must be a list of adapter names`);
  const names = adapters.map((name, i) => checkAdapterName(name, `${file}: field "adapters[${i}]"`));
  const settings = { ...defaults, ...given } as S;
  const integer = (field: keyof CheckedSettings, min: number) => {
    const v = settings[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
      throw new Error(`${file}: field "${field}" must be an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  };
  integer('docMaxLength', 1);
  integer('compressionRate', 1);
  integer('questionMaxLength', 1);
  integer('generationTopK', 1);
  integer('stage', 0);
  if (settings.docMaxLength % settings.compressionRate !== 0) {
    throw new Error(`${file}: field "compressionRate" (${settings.compressionRate}) must divide "docMaxLength" (${settings.docMaxLength})`);
  }
  const lora = settings.lora as unknown as Record<string, unknown>;
  if (lora === null || typeof lora !== 'object') throw new Error(`${file}: field "lora" must be an object {r, alpha, dropout}`);
  if (!(typeof lora.r === 'number' && Number.isInteger(lora.r) && lora.r >= 1))
    throw new Error(`${file}: field "lora.r" must be an integer ≥ 1, got ${JSON.stringify(lora.r)}`);
  if (!(typeof lora.alpha === 'number' && Number.isFinite(lora.alpha)))
    throw new Error(`${file}: field "lora.alpha" must be a number, got ${JSON.stringify(lora.alpha)}`);
  if (!(typeof lora.dropout === 'number' && lora.dropout >= 0 && lora.dropout < 1)) {
    throw new Error(`${file}: field "lora.dropout" must be a number in [0, 1), got ${JSON.stringify(lora.dropout)}`);
  }
  return { settings, adapters: names };
}

/** Throws unless the tokenizer has the n = docMaxLength / compressionRate memory tokens the settings imply. */
export function checkTokenizerAgreement(settings: CheckedSettings, tokenizer: Tokenizer, dir: string): void {
  const n = settings.docMaxLength / settings.compressionRate;
  if (tokenizer.nMem !== n) {
    throw new Error(
      `${dir}: tokenizer.json has ${tokenizer.nMem} memory tokens, but clara.json's docMaxLength ${settings.docMaxLength} / compressionRate ${settings.compressionRate} needs ${n}`,
    );
  }
}
