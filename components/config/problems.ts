import type { z } from "zod";

/**
 * One way to report bad settings, used by the stack loader and by every component
 * constructor alike: `<field>: <what is wrong>, got <value>`. Field-level rules are zod
 * schemas (`components/<layer>/schema.ts`); rules that relate fields to each other throw
 * a FieldError, which carries its path as data (nobody parses error text).
 */

/** A problem at a field path relative to the object being checked (`bonds[0].slaves`, "" for the object itself). */
export class FieldError extends Error {
  constructor(
    readonly path: string,
    readonly detail: string,
    readonly value?: unknown,
    /** False when there is no value worth showing (the message then has no ", got ..."). */
    readonly showValue = true,
  ) {
    super(formatProblem(path, detail, value, showValue));
    this.name = "FieldError";
  }
}

/** Throws a FieldError: the one `fail` every rule uses. */
export function fail(path: string, detail: string, value?: unknown, showValue = true): never {
  throw new FieldError(path, detail, value, showValue);
}

/** `prefix` + relative path: `node.network` + `bonds[0]` -> `node.network.bonds[0]`; `vms` + `[1]` -> `vms[1]`. */
export function joinPath(prefix: string, path: string): string {
  if (path === "") return prefix;
  if (prefix === "") return path.replace(/^\./, "");
  return path.startsWith("[") ? `${prefix}${path}` : `${prefix}.${path.replace(/^\./, "")}`;
}

export function formatProblem(field: string, detail: string, value?: unknown, showValue = true): string {
  return showValue ? `${field || "(root)"}: ${detail}, got ${value === undefined ? "nothing" : JSON.stringify(value)}` : `${field || "(root)"}: ${detail}`;
}

/** All that is wrong with some settings, one line per problem, each naming the field. */
export class ConfigError extends Error {
  constructor(readonly problems: string[], header?: string) {
    super(header === undefined ? problems.join("\n") : `${header}\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** `nodes[2].address` from a zod path. */
export function fieldName(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("");
}

function valueAt(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = raw;
  for (const p of path) v = v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** One zod issue as a problem line; `raw` is the value that was parsed, `prefix` names it. */
export function describeIssue(raw: unknown, issue: z.core.$ZodIssue, prefix = ""): string {
  const at = (path: readonly PropertyKey[]) => joinPath(prefix, fieldName(path));
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((k) => `${at([...issue.path, k])}: unknown field`).join("\n");
  }
  const value = valueAt(raw, issue.path);
  // zod's own wording ("Invalid input: expected string, received number") is replaced
  // by ours; a message a schema set itself is kept.
  if (issue.code === "invalid_type" && value === undefined) return `${at(issue.path)}: is required`;
  if (issue.code === "invalid_type" && /^Invalid input/.test(issue.message)) {
    return formatProblem(at(issue.path), `must be ${/^[aeiou]/.test(issue.expected) ? "an" : "a"} ${issue.expected}`, value);
  }
  return formatProblem(at(issue.path), issue.message, value);
}

/** Problem lines of a zod parse (empty when it passed). */
export function schemaProblems<T>(schema: z.ZodType<T>, value: unknown, prefix: string): { data?: T; problems: string[] } {
  const r = schema.safeParse(value);
  if (r.success) return { data: r.data, problems: [] };
  return { problems: r.error.issues.flatMap((i) => describeIssue(value, i, prefix).split("\n")) };
}

/**
 * Runs cross-field rules; a FieldError becomes a problem line under `prefix`, or under
 * what `locate` returns for its path (the stack loader names `defaults.<...>` when the
 * field came from there).
 */
export function ruleProblems(prefix: string, rules: () => void, locate: (path: string) => string = (p) => joinPath(prefix, p)): string[] {
  try {
    rules();
    return [];
  } catch (e) {
    if (e instanceof FieldError) return [formatProblem(locate(e.path), e.detail, e.value, e.showValue)];
    throw e;
  }
}

/**
 * Checks settings against a layer's schema, then (when the fields are well formed) its
 * cross-field rules; throws a ConfigError listing every problem.
 */
export function checkSettings<T>(schema: z.ZodType<T>, value: unknown, prefix: string, rules?: (s: T) => void): void {
  const { data, problems } = schemaProblems(schema, value, prefix);
  if (problems.length === 0 && rules) problems.push(...ruleProblems(prefix, () => rules(data as T)));
  if (problems.length > 0) throw new ConfigError(problems);
}
