/**
 * Added / special tokens written literally in the text ("<|im_start|>", "<s>", ...) are cut out of
 * the raw text before any normalization or BPE, leftmost-longest first (as Hugging Face does).
 * Control tokens are cut only when parseSpecial is on; user-defined tokens always are.
 */

export interface AddedToken {
  readonly id: number;
  readonly text: string;
  /** Control token (HF "special"): matched only with parseSpecial. */
  readonly isControl: boolean;
  /** Swallow whitespace on the left / right of the match (HF lstrip / rstrip). */
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  /** Match only as a whole word (HF single_word). */
  readonly singleWord: boolean;
}

/** A piece of the input: raw text to tokenize, or one added token. */
export type Fragment =
  | { readonly kind: "text"; readonly text: string; /** offset in the input */ readonly start: number }
  | { readonly kind: "token"; readonly id: number };

interface TrieNode {
  readonly next: Map<number, TrieNode>;
  token: AddedToken | undefined;
}

const WHITESPACE = /[\t-\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;
const WORD_CHAR = /[\p{L}\p{N}_]/u;

export class AddedTokenMatcher {
  private readonly all: TrieNode;
  private readonly userOnly: TrieNode;
  readonly size: number;

  constructor(tokens: readonly AddedToken[]) {
    this.all = newNode();
    this.userOnly = newNode();
    let n = 0;
    for (const t of tokens) {
      if (t.text.length === 0) continue;
      insert(this.all, t);
      if (!t.isControl) insert(this.userOnly, t);
      n++;
    }
    this.size = n;
  }

  /** Split text into raw-text fragments and added tokens. */
  split(text: string, parseSpecial: boolean): Fragment[] {
    const root = parseSpecial ? this.all : this.userOnly;
    const out: Fragment[] = [];
    if (text.length === 0) return out;
    if (root.next.size === 0) return [{ kind: "text", text, start: 0 }];
    let textStart = 0; // start of the pending raw text
    let i = 0;
    while (i < text.length) {
      const m = root.next.has(text.charCodeAt(i)) ? longestMatch(root, text, i) : undefined;
      if (m === undefined) { i++; continue; }
      const { token, end } = m;
      let left = i;
      if (token.lstrip) while (left > textStart && WHITESPACE.test(text[left - 1] as string)) left--;
      let right = end;
      if (token.rstrip) while (right < text.length && WHITESPACE.test(text[right] as string)) right++;
      if (left > textStart) out.push({ kind: "text", text: text.slice(textStart, left), start: textStart });
      out.push({ kind: "token", id: token.id });
      textStart = right;
      i = right;
    }
    if (textStart < text.length) out.push({ kind: "text", text: text.slice(textStart), start: textStart });
    return out;
  }
}

function newNode(): TrieNode {
  return { next: new Map(), token: undefined };
}

function insert(root: TrieNode, t: AddedToken): void {
  let node = root;
  for (let i = 0; i < t.text.length; i++) {
    const c = t.text.charCodeAt(i);
    let child = node.next.get(c);
    if (!child) { child = newNode(); node.next.set(c, child); }
    node = child;
  }
  // A text listed twice keeps its first (lowest) id.
  if (node.token === undefined) node.token = t;
}

/** The longest added token starting at `start` (that satisfies its single-word rule). */
function longestMatch(root: TrieNode, text: string, start: number): { token: AddedToken; end: number } | undefined {
  let node: TrieNode | undefined = root;
  let best: { token: AddedToken; end: number } | undefined;
  for (let i = start; i < text.length; i++) {
    node = node.next.get(text.charCodeAt(i));
    if (node === undefined) break;
    const t = node.token;
    if (t !== undefined && (!t.singleWord || isWholeWord(text, start, i + 1))) best = { token: t, end: i + 1 };
  }
  return best;
}

function isWholeWord(text: string, start: number, end: number): boolean {
  const before = start > 0 ? String.fromCodePoint(text.codePointAt(start - 1) ?? 0) : "";
  const after = end < text.length ? String.fromCodePoint(text.codePointAt(end) ?? 0) : "";
  return !(before !== "" && WORD_CHAR.test(before)) && !(after !== "" && WORD_CHAR.test(after));
}
