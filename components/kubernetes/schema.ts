import { z } from "zod";

/** The kubernetes layer's settings on a node (`kubernetes` in the stack config). */
export const kubernetesSchema = z.strictObject({});

export type KubernetesSettings = z.infer<typeof kubernetesSchema>;
