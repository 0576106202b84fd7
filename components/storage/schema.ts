import { z } from "zod";

/** The storage layer's settings on a node (`storage` in the stack config). */
export const storageSchema = z.strictObject({});

export type StorageSettings = z.infer<typeof storageSchema>;
