/**
 * A small non-validating XML parser for OVF descriptors: elements, attributes, namespaces (with
 * prefix scoping), text, CDATA, comments, processing instructions, the predefined and numeric
 * character references. No DTDs, so no entity expansion of any kind (internal or external);
 * input size, nesting depth and element count are bounded. Errors are StorageError('corrupt')
 * with the line number.
 */
import { StorageError } from '../types.ts';

export interface XmlAttr {
  /** Qualified name as written (e.g. "ovf:id"). */
  name: string;
  ns: string;
  local: string;
  value: string;
}

export interface XmlElement {
  name: string;
  ns: string;
  local: string;
  attrs: XmlAttr[];
  children: XmlElement[];
  /** Concatenated character data directly inside this element. */
  text: string;
}

export const MAX_XML_CHARS = 8 * 1024 * 1024;
const MAX_DEPTH = 256;
const MAX_ELEMENTS = 500_000;
const XML_NS = 'http://www.w3.org/XML/1998/namespace';

const NAME_START = /[A-Za-z_:\u00C0-\uFFFF]/;
const NAME_CHAR = /[A-Za-z0-9_:.\-\u00B7\u00C0-\uFFFF]/;

export function parseXml(src: string): XmlElement {
  if (src.length > MAX_XML_CHARS)
    throw new StorageError('too-large', `xml: document of ${src.length} characters exceeds ${MAX_XML_CHARS}`);
  let i = src.charCodeAt(0) === 0xfeff ? 1 : 0;
  let elements = 0;

  const fail = (msg: string): never => {
    const line = src.slice(0, i).split('\n').length;
    throw new StorageError('corrupt', `xml: line ${line}: ${msg}`);
  };
  const skipWs = () => {
    while (i < src.length && /[ \t\r\n]/.test(src[i]!)) i++;
  };
  const expect = (s: string) => {
    if (!src.startsWith(s, i)) fail(`expected '${s}'`);
    i += s.length;
  };
  const name = (): string => {
    const start = i;
    if (i >= src.length || !NAME_START.test(src[i]!)) fail('expected a name');
    while (i < src.length && NAME_CHAR.test(src[i]!)) i++;
    return src.slice(start, i);
  };
  const decode = (raw: string): string =>
    raw.replace(/&([^;&\s]{0,32});?/g, (m, ent: string) => {
      if (!m.endsWith(';')) fail(`unterminated reference '${m}'`);
      switch (ent) {
        case 'lt':
          return '<';
        case 'gt':
          return '>';
        case 'amp':
          return '&';
        case 'quot':
          return '"';
        case 'apos':
          return "'";
      }
      const num = /^#x([0-9a-fA-F]+)$/.exec(ent) ?? /^#([0-9]+)$/.exec(ent);
      if (num) {
        const cp = parseInt(num[1]!, ent[1] === 'x' ? 16 : 10);
        if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
          fail(`character reference ${m} is not a character`);
        return String.fromCodePoint(cp);
      }
      return fail(`unknown entity '${m}' (DTD entities are not supported)`);
    });
  /** Skips comments, PIs and whitespace between markup; refuses DOCTYPE. */
  const misc = () => {
    for (;;) {
      skipWs();
      if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i + 4);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else if (src.startsWith('<?', i)) {
        const end = src.indexOf('?>', i + 2);
        if (end < 0) fail('unterminated processing instruction');
        i = end + 2;
      } else if (src.startsWith('<!DOCTYPE', i)) {
        fail('DOCTYPE declarations are not allowed in OVF descriptors');
      } else return;
    }
  };

  type Scope = Map<string, string>;
  const resolve = (qname: string, scope: Scope, isAttr: boolean): { ns: string; local: string } => {
    const c = qname.indexOf(':');
    if (c < 0) return { ns: isAttr ? '' : (scope.get('') ?? ''), local: qname };
    const prefix = qname.slice(0, c);
    if (prefix === 'xml') return { ns: XML_NS, local: qname.slice(c + 1) };
    const ns = scope.get(prefix);
    if (ns === undefined) fail(`undeclared namespace prefix '${prefix}' in '${qname}'`);
    return { ns: ns!, local: qname.slice(c + 1) };
  };

  const element = (parentScope: Scope, depth: number): XmlElement => {
    if (depth > MAX_DEPTH) fail(`elements nested deeper than ${MAX_DEPTH}`);
    if (++elements > MAX_ELEMENTS) fail(`more than ${MAX_ELEMENTS} elements`);
    expect('<');
    const qname = name();
    const raw: { name: string; value: string }[] = [];
    for (;;) {
      const before = i;
      skipWs();
      if (src.startsWith('/>', i) || src[i] === '>') break;
      if (i === before) fail(`expected whitespace before an attribute in <${qname}>`);
      const an = name();
      skipWs();
      expect('=');
      skipWs();
      const q = src[i];
      if (q !== '"' && q !== "'") fail(`attribute ${an} of <${qname}> is not quoted`);
      const end = src.indexOf(q!, i + 1);
      if (end < 0) fail(`unterminated attribute ${an}`);
      const value = src.slice(i + 1, end);
      if (value.includes('<')) fail(`'<' in attribute ${an}`);
      if (raw.some((a) => a.name === an)) fail(`duplicate attribute ${an} in <${qname}>`);
      raw.push({ name: an, value: decode(value).replace(/[\t\n\r]/g, ' ') });
      i = end + 1;
    }
    let scope = parentScope;
    for (const a of raw) {
      if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) {
        if (scope === parentScope) scope = new Map(parentScope);
        scope.set(a.name === 'xmlns' ? '' : a.name.slice(6), a.value);
      }
    }
    const el: XmlElement = { name: qname, ...resolve(qname, scope, false), attrs: [], children: [], text: '' };
    for (const a of raw) {
      if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) continue;
      el.attrs.push({ name: a.name, ...resolve(a.name, scope, true), value: a.value });
    }
    if (src.startsWith('/>', i)) {
      i += 2;
      return el;
    }
    i++; // '>'
    const text: string[] = [];
    for (;;) {
      if (i >= src.length) fail(`<${qname}> is not closed`);
      if (src.startsWith('</', i)) {
        i += 2;
        const closing = name();
        if (closing !== qname) fail(`</${closing}> closes <${qname}>`);
        skipWs();
        expect('>');
        el.text = text.join('');
        return el;
      }
      if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i + 4);
        if (end < 0) fail('unterminated comment');
        i = end + 3;
      } else if (src.startsWith('<![CDATA[', i)) {
        const end = src.indexOf(']]>', i + 9);
        if (end < 0) fail('unterminated CDATA section');
        text.push(src.slice(i + 9, end));
        i = end + 3;
      } else if (src.startsWith('<?', i)) {
        const end = src.indexOf('?>', i + 2);
        if (end < 0) fail('unterminated processing instruction');
        i = end + 2;
      } else if (src.startsWith('<!', i)) {
        fail('markup declarations are not allowed inside elements');
      } else if (src[i] === '<') {
        el.children.push(element(scope, depth + 1));
      } else {
        const next = src.indexOf('<', i);
        const end = next < 0 ? src.length : next;
        text.push(decode(src.slice(i, end)));
        i = end;
      }
    }
  };

  misc();
  if (src[i] !== '<') fail('no root element');
  const root = element(new Map(), 0);
  misc();
  if (i < src.length) fail('content after the root element');
  return root;
}

/** Children of `el` with the given namespace and local name. */
export function childrenOf(el: XmlElement, ns: string, local: string): XmlElement[] {
  return el.children.filter((c) => c.ns === ns && c.local === local);
}

export function childOf(el: XmlElement, ns: string, local: string): XmlElement | undefined {
  return el.children.find((c) => c.ns === ns && c.local === local);
}

export function attrOf(el: XmlElement, ns: string, local: string): string | undefined {
  return el.attrs.find((a) => a.ns === ns && a.local === local)?.value;
}

/** Escapes text for element content and double-quoted attributes. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
