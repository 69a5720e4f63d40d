/**
 * A model's chat template: the Jinja text in its tokenizer_config.json (`chat_template`) that turns a
 * list of messages into the one string the model was trained on, rendered as transformers'
 * `apply_chat_template(messages, tokenize=False, add_generation_prompt=…)` renders it. The Jinja
 * engine is @huggingface/jinja, which parses with the same `trim_blocks` and `lstrip_blocks` settings
 * as transformers and defines `raise_exception`; the variables are the ones transformers passes:
 * `messages`, `add_generation_prompt`, the special-token strings (`bos_token`, `eos_token`,
 * `unk_token`, `pad_token`, `additional_special_tokens`), and the official CLaRa code's
 * `enable_thinking=False`.
 *
 * Mistral-7B-Instruct-v0.2's template gives `<s> [INST] SYSTEM\n\nUSER [/INST]`, then ` ANSWER</s>`
 * for an assistant message: the layout chatPrompt.ts writes by hand for folders without a template.
 */
import { Template } from '@huggingface/jinja';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** The special-token strings a template may use, as tokenizer_config.json names them. */
export interface ChatTemplateTokens {
  bos_token?: string;
  eos_token?: string;
  unk_token?: string;
  pad_token?: string;
  additional_special_tokens?: string[];
}

export class ChatTemplate {
  private readonly template: Template;

  /** `source` is the Jinja text; a syntax error in it is reported here, with `origin` (the file). */
  constructor(
    readonly source: string,
    private readonly tokens: ChatTemplateTokens,
    origin = 'chat_template',
  ) {
    try {
      this.template = new Template(source);
    } catch (error) {
      throw new Error(`${origin}: the chat template does not parse (${(error as Error).message})`);
    }
  }

  /** The string for `messages`; `addGenerationPrompt` asks for the opening of the assistant's turn. */
  render(messages: readonly ChatMessage[], options: { addGenerationPrompt: boolean }): string {
    return this.template.render({
      ...this.tokens,
      messages: messages.map((m) => ({ ...m })),
      add_generation_prompt: options.addGenerationPrompt,
      enable_thinking: false,
    });
  }
}
