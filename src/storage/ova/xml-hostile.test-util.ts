/**
 * Hostile XML documents for xml.test.ts, most near the 8 MiB size limit. The test parses them
 * in a child process whose heap is capped, so a parser that expands entities or keeps per-node
 * overhead without bound dies there instead of passing.
 */
import { StorageError } from '../types.ts';
import { MAX_XML_CHARS, parseXml } from './xml.ts';

const M = MAX_XML_CHARS - 64;
const attrs = (n: number, value = '1') => Array.from({ length: n }, (_, i) => `a${i}="${value}"`).join(' ');

export const HOSTILE: Record<string, { make: () => string; expect: RegExp }> = {
  'billion laughs': {
    make: () =>
      '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' +
      Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ''};`.repeat(10)}">`).join('') +
      ']><lolz>&lol9;</lolz>',
    expect: /DOCTYPE declarations are not allowed/,
  },
  'external entity': {
    make: () => '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
    expect: /DOCTYPE/,
  },
  'undeclared entity': { make: () => '<a>&lol9;</a>', expect: /undefined entity/ },
  'deep nesting': { make: () => '<a>'.repeat(M / 7) + '</a>'.repeat(M / 7), expect: /nested deeper than 256/ },
  'deep nesting, a namespace per level': {
    make: () => '<a xmlns:x="u">'.repeat(M / 19) + '</a>'.repeat(M / 19),
    expect: /nested deeper than 256/,
  },
  'many elements': { make: () => '<r>' + '<a/>'.repeat(M / 4 - 2) + '</r>', expect: /more than 100000 elements/ },
  'many attributes on one element': {
    make: () => `<r ${attrs(700_000)}/>`,
    expect: /more than 1024 attributes on one element/,
  },
  'many attributes over many elements': {
    make: () => '<r>' + `<e ${attrs(1000, '')}/>`.repeat(1000) + '</r>',
    expect: /more than 200000 attributes/,
  },
  'too large': { make: () => '<a>' + ' '.repeat(MAX_XML_CHARS) + '</a>', expect: /exceeds/ },
};

/** Parses one document: 'ok' or the StorageError's code and message; anything else is a bug. */
export function tryParse(src: string): { code: string; message: string } {
  try {
    parseXml(src);
    return { code: 'ok', message: '' };
  } catch (e) {
    if (e instanceof StorageError) return { code: e.code, message: e.message };
    return { code: 'not a StorageError', message: String(e) };
  }
}
