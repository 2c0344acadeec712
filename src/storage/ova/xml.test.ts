import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { StorageError } from '../types.ts';
import { HOSTILE, tryParse } from './xml-hostile.test-util.ts';
import { attrOf, childOf, parseXml } from './xml.ts';

describe('xml', () => {
  it('resolves namespaces, attributes, entities and CDATA', () => {
    const doc = parseXml(`\uFEFF<?xml version="1.0" encoding="UTF-8"?>
<!-- exported -->
<Envelope xmlns="urn:a" xmlns:b="urn:b" b:x='1 &amp; 2' plain="&#x41;&#66;">
  <b:Item b:id="i">t&lt;e&gt;xt<![CDATA[<raw>]]></b:Item>
  <Inner xmlns="urn:c"><Deep/></Inner>
</Envelope>`);
    assert.equal(doc.ns, 'urn:a');
    assert.equal(attrOf(doc, 'urn:b', 'x'), '1 & 2');
    assert.equal(attrOf(doc, '', 'plain'), 'AB');
    const item = childOf(doc, 'urn:b', 'Item')!;
    assert.equal(item.text, 't<e>xt<raw>');
    assert.equal(attrOf(item, 'urn:b', 'id'), 'i');
    assert.equal(childOf(doc, 'urn:c', 'Inner')!.children[0]!.ns, 'urn:c');
  });

  it('rejects malformed documents with a line number', () => {
    const bad = [
      '<a><b></a>',
      '<a>',
      '<a x="1" x="2"/>',
      '<p:a/>',
      '<a>&foo;</a>',
      '<!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>',
      '<a/><b/>',
      '',
      '<a x=1/>',
      '<a>&#0;</a>',
    ];
    for (const s of bad) {
      assert.throws(
        () => parseXml(s),
        (e: unknown) => e instanceof StorageError && e.code === 'corrupt' && /line \d+/.test(e.message),
        s,
      );
    }
  });

  it('bounds nesting depth and size', () => {
    assert.throws(() => parseXml('<a>'.repeat(1000) + '</a>'.repeat(1000)), /deeper/);
    assert.throws(() => parseXml('<a>' + ' '.repeat(9 * 1024 * 1024) + '</a>'), { code: 'too-large' });
  });
});

describe('xml against hostile documents', () => {
  it('refuses each with a clean StorageError, within a 160 MiB heap and a bounded time', () => {
    // A child process with a capped heap: unbounded expansion or per-node overhead kills it
    // (and the test) instead of passing. The timeout catches quadratic work.
    const util = new URL('./xml-hostile.test-util.ts', import.meta.url).href;
    const script = `const { HOSTILE, tryParse } = await import(${JSON.stringify(util)});
for (const [name, c] of Object.entries(HOSTILE)) console.log(JSON.stringify({ name, ...tryParse(c.make()) }));`;
    const out = execFileSync(
      process.execPath,
      ['--max-old-space-size=160', '--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 300_000 },
    );
    const results = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { name: string; code: string; message: string });
    assert.deepEqual(
      results.map((r) => r.name),
      Object.keys(HOSTILE),
    );
    for (const r of results) {
      const want = HOSTILE[r.name]!;
      assert.equal(r.code, r.name === 'too large' ? 'too-large' : 'corrupt', `${r.name}: ${r.message}`);
      assert.match(r.message, want.expect, r.name);
    }
  });

  it('keeps __proto__ and constructor names as plain data, polluting nothing', () => {
    const doc = parseXml(
      `<__proto__ xmlns:__proto__="urn:p" __proto__="a" constructor="b" prototype="c">` +
        `<__proto__:constructor __proto__:__proto__="d"/><hasOwnProperty toString="e"/></__proto__>`,
    );
    assert.equal(doc.local, '__proto__');
    assert.deepEqual(
      doc.attrs.map((a) => [a.name, a.value]),
      [
        ['__proto__', 'a'],
        ['constructor', 'b'],
        ['prototype', 'c'],
      ],
    );
    const inner = childOf(doc, 'urn:p', 'constructor')!;
    assert.equal(attrOf(inner, 'urn:p', '__proto__'), 'd');
    assert.equal(attrOf(childOf(doc, '', 'hasOwnProperty')!, '', 'toString'), 'e');
    assert.equal(Object.getPrototypeOf(doc), Object.prototype);
    const probe: Record<string, unknown> = {};
    assert.equal(probe['a'], undefined);
    assert.equal(probe['d'], undefined);
    assert.equal(typeof probe.toString, 'function');
    for (const s of ['<a>&__proto__;</a>', '<a b="&constructor;"/>', '<a>&hasOwnProperty;</a>'])
      assert.equal(tryParse(s).code, 'corrupt', s);
  });
});
