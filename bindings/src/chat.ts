// Chat templates: the GGUF's tokenizer.chat_template rendered with @huggingface/jinja.
import { Template } from '@huggingface/jinja';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export interface ChatTemplateOptions {
  /** A Jinja chat template to use instead of the model's. */
  template?: string;
  /** End with the assistant's turn opened (default true). */
  addGenerationPrompt?: boolean;
  /** Text of the BOS / EOS tokens, as templates reference them (bos_token, eos_token). */
  bosToken?: string;
  eosToken?: string;
  /** Extra variables for the template. */
  variables?: Record<string, unknown>;
}

const compiled = new Map<string, Template>();

/**
 * Renders `messages` with a Jinja chat template (HF/llama.cpp conventions: messages, bos_token,
 * eos_token, add_generation_prompt). Without a template (a model without
 * tokenizer.chat_template) the plain fallback is used:
 *
 *     System: <content>\n\nUser: <content>\nAssistant: <content>\n...Assistant:
 *
 * (generation with it stops at "\nUser:").
 */
export function applyChatTemplate(messages: ChatMessage[], options: ChatTemplateOptions = {}): string {
  if (!Array.isArray(messages) || messages.some((m) => !m || typeof m.role !== 'string' || typeof m.content !== 'string')) {
    throw new TypeError('messages: expected an array of { role, content } with string values');
  }
  const addGenerationPrompt = options.addGenerationPrompt !== false;
  if (!options.template) return fallbackChat(messages, addGenerationPrompt);
  let t = compiled.get(options.template);
  if (!t) {
    t = new Template(options.template);
    compiled.set(options.template, t);
  }
  return t.render({
    ...options.variables,
    messages,
    bos_token: options.bosToken ?? '',
    eos_token: options.eosToken ?? '',
    add_generation_prompt: addGenerationPrompt,
  });
}

const title = (role: string) => role.charAt(0).toUpperCase() + role.slice(1);

/** The plain transcript used when a model has no chat template. */
export function fallbackChat(messages: ChatMessage[], addGenerationPrompt = true): string {
  let out = '';
  for (const m of messages) {
    out += `${title(m.role)}: ${m.content.trim()}\n`;
    if (m.role === 'system') out += '\n';
  }
  if (addGenerationPrompt) out += 'Assistant:';
  return out;
}
