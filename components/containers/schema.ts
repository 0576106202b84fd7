import { z } from "zod";

/** The containers layer's settings on a node (`containers` in the stack config). */
export const containersSchema = z.strictObject({});

export type ContainersSettings = z.infer<typeof containersSchema>;
