/**
 * OVF descriptors as a small element tree, parsed by saxes (a strict, namespace-aware,
 * streaming XML 1.0 parser). The tree is ours, built from the parser's events, so every
 * limit below is checked while parsing and a hostile file fails early, before it costs much.
 *
 * Why saxes (see docs/storage-formats.md, "Choosing the XML parser"): it checks well-formedness
 * (undeclared prefixes, duplicate attributes, one root, character references), resolves
 * namespaces, never expands entities beyond the five predefined ones and character references
 * (a DOCTYPE is only reported as a string, and we refuse it), keys its own records with
 * null-prototype objects and has no Node-only dependencies. What it does not bound (depth,
 * element and attribute counts) we bound in its event handlers.
 *
 * Errors are StorageError('corrupt') with the line number; 'too-large' for the size limit.
 */
import { SaxesParser } from 'saxes';
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

/** An ovftool descriptor is tens of KiB; big vApps with many properties reach a few hundred. */
export const MAX_XML_CHARS = 8 * 1024 * 1024;
/** OVF nests about 6 deep; also bounds the parser's prefix lookups, which walk the open tags. */
export const MAX_XML_DEPTH = 256;
/** Real descriptors have hundreds of elements; this bounds our tree to tens of MiB. */
export const MAX_XML_ELEMENTS = 100_000;
/** Per element (OVF elements carry fewer than 20) and in all: saxes keeps an element's attributes until its '>'. */
export const MAX_XML_ATTRIBUTES = 1024;
export const MAX_XML_ATTRIBUTES_TOTAL = 200_000;

const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

export function parseXml(src: string): XmlElement {
  if (src.length > MAX_XML_CHARS)
    throw new StorageError('too-large', `xml: document of ${src.length} characters exceeds ${MAX_XML_CHARS}`);
  const parser = new SaxesParser({ xmlns: true, position: true });
  const fail = (msg: string): never => {
    throw new StorageError('corrupt', `xml: line ${parser.line}: ${msg}`);
  };
  let root: XmlElement | undefined;
  const stack: XmlElement[] = [];
  const texts: string[][] = [];
  let elements = 0;
  let attrsHere = 0;
  let attrsTotal = 0;

  parser.on('error', (e) => fail(e.message.replace(/^\d+:\d+: /, '')));
  parser.on('doctype', () => fail('DOCTYPE declarations are not allowed in OVF descriptors (no DTDs, no entities)'));
  parser.on('opentagstart', () => {
    if (stack.length >= MAX_XML_DEPTH) fail(`elements nested deeper than ${MAX_XML_DEPTH}`);
    if (++elements > MAX_XML_ELEMENTS) fail(`more than ${MAX_XML_ELEMENTS} elements`);
    attrsHere = 0;
  });
  parser.on('attribute', () => {
    if (++attrsHere > MAX_XML_ATTRIBUTES) fail(`more than ${MAX_XML_ATTRIBUTES} attributes on one element`);
    if (++attrsTotal > MAX_XML_ATTRIBUTES_TOTAL) fail(`more than ${MAX_XML_ATTRIBUTES_TOTAL} attributes`);
  });
  parser.on('opentag', (tag) => {
    const el: XmlElement = { name: tag.name, ns: tag.uri, local: tag.local, attrs: [], children: [], text: '' };
    for (const a of Object.values(tag.attributes)) {
      if (a.uri === XMLNS_NS) continue; // namespace declarations, already applied by the parser
      el.attrs.push({ name: a.name, ns: a.uri, local: a.local, value: a.value });
    }
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(el);
    else root = el;
    stack.push(el);
    texts.push([]);
  });
  const onText = (t: string) => texts[texts.length - 1]?.push(t);
  parser.on('text', onText);
  parser.on('cdata', onText);
  parser.on('closetag', () => {
    stack.pop()!.text = texts.pop()!.join('');
  });

  try {
    parser.write(src.charCodeAt(0) === 0xfeff ? src.slice(1) : src).close();
  } catch (e) {
    if (e instanceof StorageError) throw e;
    // Not expected from saxes, but file-driven input must end in a StorageError.
    fail(e instanceof Error ? e.message : String(e));
  }
  if (!root) return fail('no root element');
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
