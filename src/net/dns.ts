/**
 * DNS messages (RFC 1035) for a forwarding resolver: parse one question from a query and build
 * the answer from addresses the host resolver found. Names are decoded defensively: bounded
 * length, bounded label count, no compression pointers in questions.
 */
import { get16, put16, put32 } from './bytes.ts';

export const TYPE_A = 1;
export const TYPE_AAAA = 28;
export const CLASS_IN = 1;
export const RCODE_OK = 0;
export const RCODE_FORMERR = 1;
export const RCODE_SERVFAIL = 2;
export const RCODE_NXDOMAIN = 3;
export const RCODE_NOTIMP = 4;
export const RCODE_REFUSED = 5;

export interface DnsQuery {
  id: number;
  /** Recursion desired, echoed back. */
  rd: boolean;
  name: string;
  qtype: number;
  qclass: number;
  /** The question section bytes, copied into the answer. */
  question: Uint8Array;
}

/** Parses a standard query with exactly one question; a string says why not (answer FORMERR if id is known). */
export function parseDnsQuery(b: Uint8Array): DnsQuery | string {
  if (b.length < 12) return 'dns: truncated header';
  const flags = get16(b, 2);
  if (flags & 0x8000) return 'dns: not a query';
  if (get16(b, 4) !== 1) return 'dns: question count is not 1';
  let i = 12;
  const labels: string[] = [];
  let nameLen = 0;
  for (;;) {
    if (i >= b.length) return 'dns: truncated name';
    const l = b[i]!;
    if (l === 0) {
      i++;
      break;
    }
    if (l > 63) return 'dns: compressed or oversized label in a question';
    if (i + 1 + l > b.length) return 'dns: truncated label';
    nameLen += l + 1;
    if (nameLen > 255) return 'dns: name too long';
    labels.push(String.fromCharCode(...b.subarray(i + 1, i + 1 + l)));
    i += 1 + l;
  }
  if (i + 4 > b.length) return 'dns: truncated question';
  return {
    id: get16(b, 0),
    rd: (flags & 0x0100) !== 0,
    name: labels.join('.'),
    qtype: get16(b, i),
    qclass: get16(b, i + 2),
    question: b.slice(12, i + 4),
  };
}

/** Builds a response: A records for `addrs` (IPv4 as numbers) or just an rcode. */
export function buildDnsResponse(q: DnsQuery, rcode: number, addrs: number[] = [], ttl = 60): Uint8Array {
  const answers = rcode === RCODE_OK ? addrs.slice(0, 16) : [];
  const b = new Uint8Array(12 + q.question.length + answers.length * 16);
  put16(b, 0, q.id);
  put16(b, 2, 0x8080 | (q.rd ? 0x0100 : 0) | (rcode & 15)); // QR, RA
  put16(b, 4, 1);
  put16(b, 6, answers.length);
  b.set(q.question, 12);
  let i = 12 + q.question.length;
  for (const a of answers) {
    put16(b, i, 0xc00c); // pointer to the question's name
    put16(b, i + 2, TYPE_A);
    put16(b, i + 4, CLASS_IN);
    put32(b, i + 6, ttl);
    put16(b, i + 10, 4);
    put32(b, i + 12, a);
    i += 16;
  }
  return b;
}

/** A FORMERR answer for a message whose id could be read. */
export function buildDnsError(b: Uint8Array, rcode: number): Uint8Array | undefined {
  if (b.length < 12) return undefined;
  const r = new Uint8Array(12);
  r.set(b.subarray(0, 2));
  put16(r, 2, 0x8080 | (b[2]! & 1 ? 0x0100 : 0) | rcode);
  return r;
}
