import type { DebianRelease } from "../../../components/base/index.js";
import { applyParams, confirmParams } from "../../../components/network/index.js";

// Script-tier samples of components/network/*.sh: parameters as the component renders
// them, and the order they run in (after the base, security and management scripts).
// The default bridge: br0 takes over eth0 and its address; the apply step's second run
// finds the files in place, the confirm step's first run commits (disarms the rollback).
// VLANs and bonds cannot be raised by the lab's kernel, so the sample keeps to the bridge.
export const order: string[] = ["network/apply.sh", "network/confirm.sh"];
export const sample = (_release: DebianRelease): Record<string, Record<string, string>> => {
  const apply = applyParams({ rollbackSeconds: 60 });
  return { "network/apply.sh": apply, "network/confirm.sh": confirmParams(apply) };
};
