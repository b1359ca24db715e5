/** The outcome of parsing JSON text: the value, or where and why it failed. */
export type JsonParse =
  | { ok: true; value: unknown }
  | { ok: false; /** UTF-16 index into the text. */ position: number; reason: string };

/** Parses JSON and, on failure, locates the first offending character (V8 does not always say). */
export function parseJson(text: string): JsonParse {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const located = errorPosition(text);
    const stated = /at position (\d+)/.exec(reason)?.[1];
    return { ok: false, position: located ?? (stated === undefined ? 0 : Number(stated)), reason };
  }
}

/** Decodes UTF-8 bytes, or gives the byte offset of the first invalid sequence. */
export function decodeUtf8(bytes: Uint8Array): { ok: true; text: string } | { ok: false; offset: number } {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  // The decoder turns bad bytes into U+FFFD; a real U+FFFD is the bytes EF BF BD and is let through.
  for (let at = text.indexOf('\uFFFD'); at !== -1; at = text.indexOf('\uFFFD', at + 1)) {
    const offset = byteOffset(text, at);
    if (bytes[offset] !== 0xef || bytes[offset + 1] !== 0xbf || bytes[offset + 2] !== 0xbd) return { ok: false, offset };
  }
  return { ok: true, text };
}

/** The UTF-8 byte offset of a UTF-16 index into text. */
export function byteOffset(text: string, position: number): number {
  return Buffer.byteLength(text.slice(0, position), 'utf8');
}

const WS = new Set([' ', '\t', '\n', '\r']);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const STRING_CHAR = /[^"\\\u0000-\u001f]*/y;
const ESCAPE = /\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/y;

/** Index of the first character that breaks the JSON grammar, or undefined when the text is valid. */
function errorPosition(text: string): number | undefined {
  let i = 0;
  // Each frame is the container we are inside and what it expects next.
  const stack: ('object' | 'array')[] = [];
  const skip = (): void => {
    while (i < text.length && WS.has(text[i] as string)) i++;
  };
  const match = (re: RegExp): boolean => {
    re.lastIndex = i;
    if (!re.test(text)) return false;
    i = re.lastIndex;
    return true;
  };
  const string = (): boolean => {
    if (text[i] !== '"') return false;
    i++;
    for (;;) {
      match(STRING_CHAR);
      if (text[i] === '"') {
        i++;
        return true;
      }
      if (text[i] !== '\\' || !match(ESCAPE)) return false;
    }
  };
  // Reads one value; containers push a frame and return, their members are read by the loop below.
  const value = (): boolean => {
    skip();
    const c = text[i];
    if (c === '{' || c === '[') {
      i++;
      skip();
      const close = c === '{' ? '}' : ']';
      if (text[i] === close) {
        i++;
        return true;
      }
      stack.push(c === '{' ? 'object' : 'array');
      return c === '{' ? member() : value();
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return true;
      }
    }
    return match(NUMBER);
  };
  const member = (): boolean => {
    skip();
    if (!string()) return false;
    skip();
    if (text[i] !== ':') return false;
    i++;
    return value();
  };

  if (!value()) return i;
  for (;;) {
    skip();
    const top = stack.at(-1);
    if (top === undefined) return i < text.length ? i : undefined;
    if (text[i] === ',') {
      i++;
      if (!(top === 'object' ? member() : value())) return i;
    } else if (text[i] === (top === 'object' ? '}' : ']')) {
      i++;
      stack.pop();
    } else {
      return i;
    }
  }
}
