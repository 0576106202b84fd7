import * as pulumi from "@pulumi/pulumi";
import type { ResolvedHost } from "../host/index.js";

// STUB (contract only): replaced by the real layer.
export interface VirtualizationSettings {}
export interface VirtualizationHostArgs extends VirtualizationSettings { host: ResolvedHost }
export function validateVirtualizationSettings(_settings: VirtualizationSettings, _field: string): void {}
export class VirtualizationHost extends pulumi.ComponentResource {
  readonly ready: pulumi.Resource;
  constructor(name: string, args: VirtualizationHostArgs, opts?: pulumi.ComponentResourceOptions) {
    validateVirtualizationSettings(args, "virtualization");
    super("debvisor:virtualization:VirtualizationHost", name, {}, opts);
    this.ready = this;
    this.registerOutputs({});
  }
}
