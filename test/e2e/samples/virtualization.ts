import type { DebianRelease } from "../../../components/base/index.js";

// Script-tier samples of components/virtualization/*.sh: parameters as the component renders
// them, and the order they run in (after the base, security and management scripts).
export const order: string[] = [];
export const sample = (_release: DebianRelease): Record<string, Record<string, string>> => ({});
