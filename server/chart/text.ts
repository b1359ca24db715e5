/** Escapes text for SVG and HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const narrow = new Set('iljtfr.,:;|!\'" ()[]');
const wide = new Set('mwMW@%');

/**
 * Width of a line of text in pixels, estimated without a font: the chart is laid out on the server,
 * so it errs on the wide side rather than clip.
 */
export function textWidth(text: string, size: number, bold = false): number {
  let em = 0;
  for (const c of text) {
    if (narrow.has(c)) em += 0.32;
    else if (wide.has(c) || (c >= 'A' && c <= 'Z')) em += 0.78;
    else em += 0.58;
  }
  return Math.ceil(em * size * (bold ? 1.08 : 1));
}
