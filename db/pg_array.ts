/**
 * PostgreSQL array literals (`{"a",NULL,"b"}`), written and parsed here
 * because postgres.js types array parameters by their first element and
 * parses an unquoted `NULL` element as the string "NULL".
 *
 * @module
 */

/** Render a JS value as the text PostgreSQL reads for one scalar. */
export type ElementText = (x: unknown) => string;

function defaultElementText(x: unknown): string {
  if (x instanceof Date) return x.toISOString();
  if (typeof x === "object") return JSON.stringify(x);
  return String(x);
}

/** A JS array (nested for multi-dimensional) as an array literal; null/undefined → NULL. */
export function toArrayLiteral(
  xs: readonly unknown[],
  elementText: ElementText = defaultElementText,
): string {
  const parts = xs.map((x) => {
    if (x === null || x === undefined) return "NULL";
    if (Array.isArray(x)) return toArrayLiteral(x, elementText);
    const text = elementText(x);
    // Most elements (names, ids, numbers) need no escape: skip the two scans that rebuild them.
    if (!text.includes("\\") && !text.includes('"')) return `"${text}"`;
    return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  });
  return `{${parts.join(",")}}`;
}

/**
 * Parse an array literal as PostgreSQL prints it (delimiter `,`), mapping
 * every non-NULL element through `parse`. Dimension decorations
 * (`[1:2]={…}`) are skipped.
 */
export function parseArrayLiteral<T>(text: string, parse: (s: string) => T): unknown[] {
  let i = text.indexOf("{");
  const readArray = (): unknown[] => {
    const out: unknown[] = [];
    i++; // past "{"
    while (i < text.length) {
      const ch = text[i];
      if (ch === "}") {
        i++;
        return out;
      }
      if (ch === ",") {
        i++;
      } else if (ch === "{") {
        out.push(readArray());
      } else if (ch === '"') {
        let s = "";
        i++;
        while (i < text.length && text[i] !== '"') {
          if (text[i] === "\\") i++;
          s += text[i++];
        }
        i++; // past closing quote
        out.push(parse(s));
      } else {
        let end = i;
        while (end < text.length && text[end] !== "," && text[end] !== "}") end++;
        const raw = text.slice(i, end).trim();
        out.push(raw.toUpperCase() === "NULL" ? null : parse(raw));
        i = end;
      }
    }
    return out;
  };
  return i < 0 ? [] : readArray();
}
