import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StorageError } from '../types.ts';
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
