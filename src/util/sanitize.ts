/**
 * Terminal safety (DESIGN.md section 8): every string that came from a disk, a console or a tool is untrusted.
 * Before it reaches a terminal it goes through terminalSafe, which removes what a terminal would act on instead
 * of showing: escape sequences (CSI, OSC such as OSC 52 clipboard writes, DCS/SOS/PM/APC strings, 7-bit and 8-bit
 * forms), the remaining C0 and C1 control characters (U+009B CSI, U+0085 NEL, ...), DEL, and the invisible
 * Unicode controls that reorder or hide text (bidi overrides and isolates, line/paragraph separators, lone
 * surrogates). HTML and JUnit output escape for their own formats and do not need this.
 */

/** Escape sequences in their 7-bit (ESC-introduced) and 8-bit (C1) forms, each removed whole. */
const SEQUENCES = new RegExp(
  [
    // OSC, DCS, SOS, PM, APC: a string up to BEL or ST (ESC \ or U+009C); an unterminated one runs to the end.
    '(?:\\x1b[\\]PX^_]|[\\x90\\x98\\x9d\\x9e\\x9f])[\\s\\S]*?(?:\\x07|\\x1b\\\\|\\x9c|$)',
    // CSI: parameters, intermediates, final byte.
    '(?:\\x1b\\[|\\x9b)[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]?',
    // Other escape sequences: ESC, intermediates, one final byte (charset selection, keypad modes, RIS, ...).
    '\\x1b[\\x20-\\x2f]*[\\x30-\\x7e]?',
  ].join('|'),
  'g',
);

/** Characters removed outright after the sequences: C0 (but tab and newline), DEL, C1, and invisible format controls. */
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]/g;

/** Lone UTF-16 surrogates (a JS string can hold them; a terminal would get invalid UTF-8). */
const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** TerminalSafeOptions choose between one line (titles, progress) and a block of lines (diagnose). */
export interface TerminalSafeOptions {
  /** Keep line breaks (\n) and tabs; default false: they become spaces, so the text stays on one line. */
  multiline?: boolean;
}

/** terminalSafe makes untrusted text safe to write to a terminal: see the module comment. */
export function terminalSafe(text: unknown, opts: TerminalSafeOptions = {}): string {
  let s = String(text ?? '')
    .replace(LONE_SURROGATES, '\ufffd')
    .replace(SEQUENCES, '')
    .replace(/\r\n?/g, '\n')
    .replace(/[\u2028\u2029]/g, '\n')
    .replace(CONTROLS, '');
  if (!opts.multiline) s = s.replace(/[\n\t]+/g, ' ');
  return s;
}

/**
 * jsonForTerminal serialises like JSON.stringify, and also escapes the characters JSON.stringify leaves raw that
 * a terminal acts on (C1 controls, bidi and other invisible format controls): the same data, safe on a terminal.
 */
export function jsonForTerminal(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(/[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff\ufff9-\ufffb]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * displayBytes renders raw bytes (a path found on a disk) as a readable, unambiguous one-line string: valid UTF-8
 * without controls is shown as is; any other byte as \xNN, and a backslash as \\, so two different byte strings
 * never look the same. The bytes themselves travel separately (base64); this is only for display.
 */
export function displayBytes(bytes: Uint8Array): string {
  const out: string[] = [];
  const dec = new TextDecoder('utf-8', { fatal: true });
  const hex = (b: number) => `\\x${b.toString(16).padStart(2, '0')}`;
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    let ch: string | undefined;
    if (len > 0 && i + len <= bytes.length) {
      try {
        ch = dec.decode(bytes.subarray(i, i + len));
      } catch {
        ch = undefined;
      }
    }
    if (ch === undefined) {
      out.push(hex(b));
      i++;
      continue;
    }
    if (ch === '\\') out.push('\\\\');
    else if (terminalSafe(ch) !== ch || ch === '\ufffd') out.push(...Array.from(bytes.subarray(i, i + len), hex));
    else out.push(ch);
    i += len;
  }
  return out.join('');
}
