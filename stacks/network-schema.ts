import { z } from "zod";

// STUB (contract only): replaced by the real schema of the network layer.
export const networkSchema = z.strictObject({});
