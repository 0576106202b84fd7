import { z } from "zod";

// STUB (contract only): replaced by the real schema of the network layer, which keeps
// `bridge: false` (leave the host's network as it is).
export const networkSchema = z.strictObject({ bridge: z.literal(false).optional() });
