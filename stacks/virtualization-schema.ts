import { z } from "zod";

// STUB (contract only): replaced by the real schema of the virtualization layer.
export const virtualizationSchema = z.strictObject({});
