// Tiny markup helpers for the HTML report and its inline SVG: escaping and attribute lists.

/**
 * True for a code point XML 1.0 cannot carry, even as a character reference: C0 controls other
 * than tab, LF and CR, lone surrogates, U+FFFE and U+FFFF.
 */
export function isNonXmlChar(cp: number): boolean {
  return (
    (cp < 0x20 && cp !== 0x09 && cp !== 0x0a && cp !== 0x0d) ||
    (cp >= 0xd800 && cp <= 0xdfff) ||
    cp === 0xfffe ||
    cp === 0xffff
  );
}

/** Replaces every character XML 1.0 cannot carry with what `by` returns for it. */
export function replaceNonXmlChars(text: string, by: (ch: string) => string): string {
  let out = "";
  // for..of walks code points: a proper surrogate pair arrives as one character, a lone one alone.
  for (const ch of text) out += isNonXmlChar(ch.codePointAt(0) ?? 0) ? by(ch) : ch;
  return out;
}

/** Escapes text for element content and double- or single-quoted attribute values. */
export function esc(value: unknown): string {
  return replaceNonXmlChars(String(value ?? ""), () => "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

export type AttrValue = string | number | boolean | undefined | null;

/** ` name="value"` pairs; undefined/null/false leave the attribute out, true writes it bare. */
export function attrs(values: Record<string, AttrValue>): string {
  let out = "";
  for (const [name, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === false) continue;
    out += value === true ? ` ${name}` : ` ${name}="${esc(value)}"`;
  }
  return out;
}

/** An element with escaped attributes; `inner` is markup the caller has already escaped. */
export function el(tag: string, attributes: Record<string, AttrValue>, inner = ""): string {
  return `<${tag}${attrs(attributes)}>${inner}</${tag}>`;
}

/** Numbers in SVG coordinates: at most 2 decimals, no "-0". */
export function num(n: number): string {
  const r = Math.round(n * 100) / 100;
  return Object.is(r, -0) ? "0" : String(r);
}
