import { describe, expect, it } from 'vitest';
import { displayBytes, jsonForTerminal, terminalSafe } from '../../src/util/sanitize.js';

/** Anything a terminal would act on rather than show. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029]/;

describe('terminalSafe', () => {
  const hostile: [string, string, string][] = [
    ['OSC 52 clipboard write (BEL)', 'a\x1b]52;c;ZWNobyBwd25lZA==\x07b', 'ab'],
    ['OSC 8 hyperlink (ST)', '\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\', 'click'],
    ['clear screen and home', 'x\x1b[2J\x1b[Hy', 'xy'],
    ['SGR colours', '\x1b[1;31mred\x1b[0m', 'red'],
    ['8-bit CSI (U+009B)', 'a\u009b2Jb', 'ab'],
    ['8-bit OSC (U+009D) to ST (U+009C)', 'a\u009d0;title\u009cb', 'ab'],
    ['NEL (U+0085)', 'a\u0085b', 'ab'],
    ['bidi override (U+202E)', 'invoice\u202egnp.exe', 'invoicegnp.exe'],
    ['bidi isolates', '\u2066a\u2069', 'a'],
    ['carriage return overwriting the line', 'all good\rFAILED', 'all good FAILED'],
    ['DCS string', 'a\x1bPq#0;2;0;0;0\x1b\\b', 'ab'],
    ['charset switch', 'a\x1b(0b', 'ab'],
    ['backspace, bell, NUL, DEL', 'a\b\x07\0\x7fb', 'ab'],
    ['unterminated OSC eats the rest of the line only', 'a\x1b]0;never ends', 'a'],
    ['lone surrogate', 'a\ud800b', 'a\ufffdb'],
  ];
  for (const [name, input, want] of hostile) {
    it(`strips ${name}`, () => {
      const out = terminalSafe(input);
      expect(out).toBe(want);
      expect(out).not.toMatch(CONTROL);
    });
  }

  it('keeps ordinary text, other scripts and emoji as they are', () => {
    for (const s of ['/var/lib/postgresql/15/main', 'Grüße, 日本語, ✓ 🚀', 'ext4 "root" (p1): clean']) expect(terminalSafe(s)).toBe(s);
  });

  it('puts text on one line by default and keeps lines (not controls) in multiline mode', () => {
    expect(terminalSafe('a\nb\tc')).toBe('a b c');
    expect(terminalSafe('a\r\nb\u2028c\x1b[2Jd', { multiline: true })).toBe('a\nb\ncd');
  });

  it('decoded invalid UTF-8 shows as U+FFFD, never as raw bytes', () => {
    // 0xc2 0x9b is U+009B (8-bit CSI): with its parameters '2J' it goes too.
    const s = Buffer.from([0x61, 0xff, 0xfe, 0xc2, 0x9b, 0x32, 0x4a, 0x62]).toString('utf8');
    expect(terminalSafe(s)).toBe('a\ufffd\ufffdb');
  });
});

describe('jsonForTerminal', () => {
  it('escapes what JSON.stringify leaves raw (C1, bidi), and parses back to the same data', () => {
    const v = { path: 'a\u009b2J\u202eb\x1b]52;c;x\x07' };
    const text = jsonForTerminal(v, 2);
    expect(text).not.toMatch(CONTROL);
    expect(text).not.toContain('\x1b');
    expect(JSON.parse(text)).toEqual(v);
  });
});

describe('displayBytes', () => {
  it('shows valid UTF-8 as is, and every other byte, control or backslash unambiguously', () => {
    expect(displayBytes(Buffer.from('/srv/app/data/app.db'))).toBe('/srv/app/data/app.db');
    expect(displayBytes(Buffer.from('/srv/café.db'))).toBe('/srv/café.db');
    expect(displayBytes(Buffer.from([0x2f, 0x61, 0xff, 0x62]))).toBe('/a\\xffb');
    expect(displayBytes(Buffer.from('/a\nb\x1b[2J'))).toBe('/a\\x0ab\\x1b[2J');
    expect(displayBytes(Buffer.from('/a\\xffb'))).toBe('/a\\\\xffb');
    expect(displayBytes(Buffer.from('/\u202eexe'))).toBe('/\\xe2\\x80\\xaeexe');
    expect(displayBytes(Buffer.from([0xc2, 0x9b]))).toBe('\\xc2\\x9b');
    // A truncated multi-byte sequence at the end.
    expect(displayBytes(Buffer.from([0x61, 0xe2, 0x82]))).toBe('a\\xe2\\x82');
  });
});
