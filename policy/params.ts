/**
 * Reads a step's parameters back out of the payload a `command:remote:Command` sends
 * on stdin: the inverse of `renderParams` in components/host/remote-step.ts.
 *
 * The payload starts with `#!/bin/bash`, `set -euo pipefail`, then one
 * `export DV_NAME='value'` line per parameter (sorted by name), each value POSIX
 * single-quoted: the text between quotes is literal, and a `'` inside the value is
 * written as `'\''` (close the quote, an escaped quote, open again). A value that holds
 * `$` or a backtick is preceded by a `# shellcheck disable=SC2016` line. The shared
 * prelude and the script follow; they are not parameters, so parsing stops at the
 * first line that is not part of that block.
 *
 * Parsing is exact, not a search: a value that itself contains text such as
 * `\nexport DV_X='y'` stays inside its value and never becomes a parameter.
 */

const NAME = /^[A-Z][A-Z0-9_]*$/;
const HEADER = ["#!/bin/bash", "set -euo pipefail"];
const DIRECTIVE = /^# shellcheck disable=[A-Z0-9,]+$/;

export class PayloadParseError extends Error {}

/**
 * The parameters of a payload, in the order they appear. Throws PayloadParseError when
 * the parameter block is malformed (an unterminated quote, a character outside a quote
 * that POSIX single quoting never produces).
 */
export function parseParams(payload: string): Record<string, string> {
  return parsePayload(payload).params;
}

/** The parameters, and the offset where the text after the parameter block starts. */
export function parsePayload(payload: string): { params: Record<string, string>; rest: number } {
  const params: Record<string, string> = {};
  let i = 0;
  const lineEnd = (from: number) => {
    const n = payload.indexOf("\n", from);
    return n === -1 ? payload.length : n;
  };
  // The fixed header lines, when present.
  for (const h of HEADER) {
    const end = lineEnd(i);
    if (payload.slice(i, end) === h) i = Math.min(end + 1, payload.length);
  }
  while (i < payload.length) {
    const end = lineEnd(i);
    const line = payload.slice(i, end);
    if (DIRECTIVE.test(line)) {
      i = end + 1;
      continue;
    }
    const m = /^export ([A-Za-z_][A-Za-z0-9_]*)=/.exec(payload.slice(i, i + 300));
    if (!m || !NAME.test(m[1])) break; // the prelude begins
    i += m[0].length;
    let value = "";
    // One shell word: 'literal' segments and \' escapes, ended by a newline (or the end).
    for (;;) {
      if (i >= payload.length || payload[i] === "\n") break;
      if (payload[i] === "'") {
        const close = payload.indexOf("'", i + 1);
        if (close === -1) throw new PayloadParseError(`parameter ${m[1]}: unterminated single quote`);
        value += payload.slice(i + 1, close);
        i = close + 1;
      } else if (payload.startsWith("\\'", i)) {
        value += "'";
        i += 2;
      } else {
        throw new PayloadParseError(`parameter ${m[1]}: unexpected character ${JSON.stringify(payload[i])} outside quotes`);
      }
    }
    params[m[1]] = value;
    i += 1; // the newline
  }
  return { params, rest: Math.min(i, payload.length) };
}

/** The script a payload runs (the `# --- <path>` marker renderPayload writes), if any. */
export function payloadScript(payload: string): string | undefined {
  // Only after the parameter block: a value may hold any text, markers included.
  return /^# --- (\S+)$/m.exec(payload.slice(parsePayload(payload).rest))?.[1];
}

const PART_MARKER = /^# --- part ([a-z0-9][a-z0-9-]*): (\S+)$/;

/**
 * The parameters of every script a payload runs: of the one script of a single-script
 * payload, or of each part of a multi-part payload (`renderPartsPayload`: one step per
 * layer, each part `# --- part <name>: <script>`, an optional `if dv_part_due ...; then`,
 * `(`, then its parameter block). Exact like parsePayload: a part's parameters are read
 * with the same parser, so a value holding a marker stays inside its value.
 */
export function parseScripts(payload: string): { part?: string; script?: string; params: Record<string, string> }[] {
  const first = parsePayload(payload);
  if (Object.keys(first.params).length > 0 || !payload.includes("\n# --- part ")) {
    return [{ script: payloadScript(payload), params: first.params }];
  }
  const out: { part: string; script: string; params: Record<string, string> }[] = [];
  let i = payload.indexOf("\n# --- part ") + 1;
  while (i > 0 && i < payload.length) {
    const end = payload.indexOf("\n", i);
    const m = PART_MARKER.exec(payload.slice(i, end === -1 ? undefined : end));
    if (!m) throw new PayloadParseError(`part marker expected at offset ${i}`);
    let j = end + 1;
    if (payload.startsWith("if dv_part_due ", j)) j = payload.indexOf("\n", j) + 1;
    if (!payload.startsWith("(\n", j)) throw new PayloadParseError(`part ${m[1]}: its subshell is missing`);
    j += 2;
    const block = parsePayload(payload.slice(j));
    out.push({ part: m[1], script: m[2], params: block.params });
    const next = payload.indexOf("\n# --- part ", j + block.rest);
    i = next === -1 ? -1 : next + 1;
  }
  return out;
}
