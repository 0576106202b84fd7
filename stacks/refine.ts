import type { z } from "zod";

/**
 * Runs a component's own validator (the rules that relate fields to each other) inside a
 * zod schema, so the stack loader lists its problem with the others. The validator throws
 * "<prefix>.<path>: <message>, got <value>"; the issue gets <path> relative to the object
 * being refined (the loader adds the value itself).
 */
export function refineWith<T>(prefix: string, validate: (value: T, field: string) => void) {
  return (value: T, ctx: z.RefinementCtx): void => {
    try {
      validate(value, prefix);
    } catch (e) {
      const text = (e as Error).message;
      const cut = text.lastIndexOf(", got ");
      const m = new RegExp(`^${prefix}\\.?([^:]*): (.*)$`, "s").exec(cut >= 0 ? text.slice(0, cut) : text);
      const field = m ? m[1] : "";
      const path = field.split(/[.[\]]+/).filter((p) => p !== "").map((p) => (/^\d+$/.test(p) ? Number(p) : p));
      ctx.addIssue({ code: "custom", path, message: m ? m[2] : text });
    }
  };
}
