/**
 * JSON.parse keeps the last of two equal keys in an object without a word, so a row such as
 * `{"question":"a","question":"b"}` would train on half of what its author wrote. This scan finds
 * such a key in text that JSON.parse has already accepted (so it need not check the grammar).
 */

/** The first key repeated within one object of the valid JSON `text`, or null. */
export function firstDuplicateKey(text: string): string | null {
  // One entry per open bracket: the keys seen so far for an object, null for an array.
  const open: Array<Set<string> | null> = [];
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') {
      open.push(new Set());
      expectKey = true;
    } else if (c === '[') {
      open.push(null);
    } else if (c === '}' || c === ']') {
      open.pop();
      expectKey = false;
    } else if (c === ',') {
      expectKey = open.at(-1) instanceof Set;
    } else if (c === '"') {
      const start = i;
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
      if (expectKey) {
        const key = JSON.parse(text.slice(start, i + 1)) as string;
        const keys = open.at(-1)!;
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
    }
  }
  return null;
}
