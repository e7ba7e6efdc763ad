import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { formatUptime, MAX_LABEL_CHARS, renderBadge, textWidth } from '../../src/web/badge.js';

/** The badge as a document: strictly well-formed XML, its elements and its visible texts. */
function parse(svg: string) {
  const valid = XMLValidator.validate(svg);
  expect(valid, JSON.stringify(valid)).toBe(true);
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', preserveOrder: true, trimValues: false, htmlEntities: true }).parse(svg) as Node[];
  const elements: string[] = [];
  const texts: string[] = [];
  let title = '';
  const walk = (nodes: Node[]): void => {
    for (const node of nodes) {
      for (const [name, children] of Object.entries(node)) {
        if (name === ':@' || name === '#text') continue;
        elements.push(name);
        const content = (children as Node[]).map((c) => (c['#text'] as string | undefined) ?? '').join('');
        if (name === 'text' && !(node[':@'] as Record<string, string> | undefined)?.['@aria-hidden']) texts.push(content);
        if (name === 'title') title = content;
        walk(children as Node[]);
      }
    }
  };
  walk(doc);
  const root = doc.find((n) => 'svg' in n)!;
  return { elements, texts, title, attributes: root[':@'] as Record<string, string> };
}
type Node = Record<string, unknown>;

describe('badge', () => {
  it.each([
    ['up', 0.99953, 'up \u00b7 99.95%', '#4c1'],
    ['down', 0.9712, 'down \u00b7 97.12%', '#e05d44'],
    ['late', 1, 'late \u00b7 100%', '#dfb317'],
    ['paused', 0.5, 'paused \u00b7 50.00%', '#007ec6'],
    ['new', null, 'new', '#9f9f9f'],
    ['new', 1, 'new', '#9f9f9f'],
    ['up', null, 'up', '#4c1'],
    ['exploded', 0.9, 'unknown \u00b7 90.00%', '#9f9f9f'],
  ] as const)('shows %s with uptime %s as "%s"', (state, uptime30d, value, colour) => {
    const svg = renderBadge({ label: 'cloud:https://passwordreset.microsoftonline.com/', state, uptime30d });
    const { texts, title, attributes } = parse(svg);
    expect(texts).toEqual(['cloud:https://passwordreset.microsoftonline.com/', value]);
    expect(title).toContain(value);
    expect(attributes['@xmlns']).toBe('http://www.w3.org/2000/svg');
    expect(svg).toContain(`fill="${colour}"`);
  });

  it('is the two-part shape: width is both parts, each its text plus padding', () => {
    const svg = renderBadge({ label: 'heartbeat:connect01', state: 'up', uptime30d: 1 });
    const width = Number(parse(svg).attributes['@width']);
    expect(width).toBeCloseTo(textWidth('heartbeat:connect01') + 10 + textWidth('up \u00b7 100%') + 10, 0);
    expect(parse(svg).elements.filter((e) => e === 'path')).toHaveLength(2);
  });

  it('keeps a hostile label text: no element, script, control character or URL secret gets through', () => {
    const hostile = `<script>alert(1)</script>"'&\u0000\u001b[2K\r\n\u202e\ufffe\ud800 relay:r1:https://alice:s3cret@sb.example/?sig=TOKEN`;
    const svg = renderBadge({ label: hostile, state: '<b>up</b>', uptime30d: 0.9 });
    const { elements, texts } = parse(svg);
    expect(new Set(elements)).toEqual(new Set(['svg', 'title', 'path', 'g', 'text']));
    expect(texts[0]).toContain('<script>alert(1)</script>"\'&'); // shown as text, not markup
    expect(svg).not.toMatch(/<script|s3cret|alice|TOKEN|[\u0000-\u0008\u000b\u000c\u000e-\u001f\u202e\ufffe]/);
    expect(svg).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    expect(texts[1]).toBe('unknown \u00b7 90.00%');
  });

  it("shows a label's URL without its user, password, query or fragment", () => {
    const { texts, title } = parse(renderBadge({ label: 'relay:r1:https://alice:s3cret@sb.example/p?sig=TOKEN#frag', state: 'up', uptime30d: 1 }));
    expect(texts[0]).toBe('relay:r1:https://sb.example/p');
    expect(title).toBe('relay:r1:https://sb.example/p: up \u00b7 100% (30 days)');
  });

  it(`cuts a 10 KB label to ${MAX_LABEL_CHARS} characters, so the badge stays small`, () => {
    const svg = renderBadge({ label: 'x'.repeat(10_240), state: 'down', uptime30d: 0 });
    const { texts } = parse(svg);
    expect(Array.from(texts[0]!)).toHaveLength(MAX_LABEL_CHARS);
    expect(texts[0]!.endsWith('…')).toBe(true);
    expect(svg.length).toBeLessThan(2_000);
    const emoji = parse(renderBadge({ label: '😀'.repeat(200), state: 'up' })).texts[0]!;
    expect(Array.from(emoji)).toHaveLength(MAX_LABEL_CHARS); // cut between code points, never inside one
  });

  it('names an empty label "check" rather than drawing nothing', () => {
    expect(parse(renderBadge({ label: '\u200b\u0000', state: 'up' })).texts[0]).toBe('check');
  });

  it('rounds uptime down, so a badge never shows better than the record', () => {
    expect(formatUptime(0.99999)).toBe('99.99%');
    expect(formatUptime(0.9995)).toBe('99.95%');
    expect(formatUptime(1)).toBe('100%');
    expect(formatUptime(0)).toBe('0.00%');
    expect(formatUptime(Number.NaN)).toBeUndefined();
    expect(formatUptime(null)).toBeUndefined();
  });
});
