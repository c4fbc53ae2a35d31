/** Building blocks the loaders share: added tokens from token types, stop ids, one-time warnings. */
import type { AddedToken } from "./special.js";
import { EOG_TOKEN_TEXTS, FIM_EOG_TOKEN_TEXTS, TokenType, findEogIds, type Vocab } from "./vocab.js";

/**
 * Tokens matched literally in raw text: control, user-defined and unknown tokens (as llama.cpp).
 * Control and unknown ones only with parseSpecial.
 */
export function addedTokensFromTypes(vocab: Vocab, rstrip: (id: number) => boolean = () => false): AddedToken[] {
  const out: AddedToken[] = [];
  for (let id = 0; id < vocab.pieces.length; id++) {
    const t = vocab.types[id];
    if (t !== TokenType.CONTROL && t !== TokenType.USER_DEFINED && t !== TokenType.UNKNOWN) continue;
    const text = vocab.pieces[id] as string;
    if (text.length === 0) continue;
    out.push({ id, text, isControl: t !== TokenType.USER_DEFINED, lstrip: false, rstrip: rstrip(id), singleWord: false });
  }
  return out;
}

/** EOS, EOT, EOM and every token whose text marks the end of a turn in common chat formats. */
export function collectStopIds(vocab: Vocab, explicit: readonly (number | undefined)[]): Set<number> {
  const ids = new Set<number>();
  for (const id of explicit) if (id !== undefined) ids.add(id);
  for (const id of findEogIds(vocab, EOG_TOKEN_TEXTS)) ids.add(id);
  for (const id of findEogIds(vocab, FIM_EOG_TOKEN_TEXTS)) ids.add(id);
  return ids;
}

const warned = new Set<string>();

/** Print a warning on stderr once per process (per distinct message). */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  process.stderr.write(`warning: ${message}\n`);
}
