import { describe, expect, it } from 'vitest';
import { decodeUtf8, parseJson } from '../../store/json-position.ts';

describe('parseJson', () => {
  it('returns the value of valid JSON', () => {
    expect(parseJson(' {"a":[1,-2.5e3,true,false,null,"x\\u00e9\\n"],"b":{}} ')).toEqual({
      ok: true,
      value: { a: [1, -2500, true, false, null, 'xé\n'], b: {} },
    });
  });

  it.each([
    ['{"a":}', 5],
    ['{"a":1,}', 7],
    ['[1,2', 4],
    ['"abc', 4],
    ['{"a" 1}', 5],
    ['{"a":1}x', 7],
    ['{"a":[1,{"b":tru}]}', 13],
    ['{"a":"bad \\q escape"}', 10],
    ['{"a":01}', 6],
    ['', 0],
  ])('locates the error in %j at index %i', (text, position) => {
    const parsed = parseJson(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.position).toBe(position);
  });

  it('reports every cut of a valid document as failing at or before the cut', () => {
    const text = JSON.stringify({ tasks: { t1: { rev: 2, title: 'Überprüfung ✓', tags: ['a', 'b'], n: -1.5e-3 } }, ok: true });
    for (let cut = 0; cut < text.length; cut++) {
      const parsed = parseJson(text.slice(0, cut));
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.position).toBeLessThanOrEqual(cut);
    }
  });
});

describe('decodeUtf8', () => {
  it('gives the byte offset of the first invalid sequence and lets a real U+FFFD through', () => {
    const bytes = Buffer.concat([Buffer.from('{"a":"é\uFFFD'), Buffer.from([0xff]), Buffer.from('"}')]);
    expect(decodeUtf8(bytes)).toEqual({ ok: false, offset: Buffer.byteLength('{"a":"é\uFFFD') });
    expect(decodeUtf8(Buffer.from('{"a":"\uFFFD"}'))).toEqual({ ok: true, text: '{"a":"\uFFFD"}' });
  });
});
