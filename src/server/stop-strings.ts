/**
 * Stop strings over streamed text. Text that might still be the start of a stop string is held
 * back; text is emitted only once no stop string can begin inside it, so the stop string itself is
 * never emitted, even when it is split across tokens ("Lil" + "y" for "Lily").
 *
 * Invariant: everything returned so far contains no position where a stop string could start, so
 * a match can only begin inside the held-back text plus the new piece.
 */
export interface StopPush {
  /** Text safe to emit now (when stopped: everything before the stop string). */
  readonly text: string;
  readonly stopped: boolean;
}

export class StopStringMatcher {
  private held = "";
  private readonly stops: readonly string[];

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  push(piece: string): StopPush {
    if (this.stops.length === 0) return { text: piece, stopped: false };
    const buf = this.held + piece;
    let cut = -1;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.held = "";
      return { text: buf.slice(0, cut), stopped: true };
    }
    const keep = this.partialSuffixLength(buf);
    this.held = buf.slice(buf.length - keep);
    return { text: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** The held-back text, at the end of generation (no stop string matched it). */
  flush(): string {
    const t = this.held;
    this.held = "";
    return t;
  }

  /** Length of the longest suffix of `buf` that is a proper prefix of some stop string. */
  private partialSuffixLength(buf: string): number {
    let best = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, buf.length); k > best; k--) {
        if (buf.endsWith(s.slice(0, k))) {
          best = k;
          break;
        }
      }
    }
    return best;
  }
}
