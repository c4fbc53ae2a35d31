/**
 * Chat templates: the model's own Jinja template (GGUF `tokenizer.chat_template` or
 * tokenizer_config.json), or a file given with --chat-template, rendered with @huggingface/jinja
 * the way transformers does: `messages`, `add_generation_prompt`, `bos_token`, `eos_token`, plus
 * `tools` and any `chat_template_kwargs`. The rendered text is tokenized with special tokens
 * parsed; BOS is added only if the template did not already write it (as llama.cpp and vLLM do).
 */
import { Template } from "@huggingface/jinja";
import type { Tokenizer } from "../tokenizer/types.js";
import { badRequest } from "./errors.js";

/** A message as templates expect it: content is always a string (text parts joined). */
export interface TemplateMessage {
  readonly role: string;
  readonly content: string;
  readonly [extra: string]: unknown;
}

export interface RenderOptions {
  readonly addGenerationPrompt?: boolean;
  readonly tools?: readonly unknown[];
  /** Extra template variables (vLLM's chat_template_kwargs, e.g. enable_thinking). */
  readonly kwargs?: Readonly<Record<string, unknown>>;
}

export class ChatTemplate {
  readonly source: string;
  private readonly template: Template;
  private readonly bosToken: string;
  private readonly eosToken: string;

  /** Parses the template now: a syntax error throws here (at startup), not per request. */
  constructor(source: string, special: { readonly bosToken: string; readonly eosToken: string }) {
    this.source = source;
    this.template = new Template(source);
    this.bosToken = special.bosToken;
    this.eosToken = special.eosToken;
  }

  /** The special-token texts a tokenizer gives the template (empty when it has none). */
  static forTokenizer(source: string, tokenizer: Tokenizer): ChatTemplate {
    const text = (id: number | undefined): string => (id === undefined ? "" : tokenizer.tokenText(id));
    return new ChatTemplate(source, { bosToken: text(tokenizer.bosId), eosToken: text(tokenizer.eosId) });
  }

  /** Renders the conversation; a template error (raise_exception, bad data) is a 400. */
  render(messages: readonly TemplateMessage[], opts: RenderOptions = {}): string {
    const context: Record<string, unknown> = {
      ...opts.kwargs,
      messages,
      add_generation_prompt: opts.addGenerationPrompt ?? true,
      bos_token: this.bosToken,
      eos_token: this.eosToken,
    };
    if (opts.tools !== undefined) context.tools = opts.tools;
    try {
      return this.template.render(context);
    } catch (e) {
      throw badRequest(`the chat template failed to render: ${e instanceof Error ? e.message : String(e)}`, "messages");
    }
  }
}

/**
 * Token ids of a rendered chat prompt: control tokens written in the text ("<|im_start|>") are
 * parsed; the tokenizer's own BOS is added unless the text already starts with it.
 */
export function encodeChatPrompt(tokenizer: Tokenizer, rendered: string): number[] {
  const bos = tokenizer.bosId !== undefined ? tokenizer.tokenText(tokenizer.bosId) : "";
  const hasBos = bos !== "" && rendered.startsWith(bos);
  return tokenizer.encode(rendered, { addSpecial: !hasBos, parseSpecial: true });
}
