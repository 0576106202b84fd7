import * as pulumi from "@pulumi/pulumi";
import type { ResolvedHost } from "../host/index.js";

// STUB (contract only): replaced by the real layer.
export interface NetworkSettings { bridge?: false }
export interface HostNetworkArgs extends NetworkSettings { host: ResolvedHost }
export function validateNetworkSettings(_settings: NetworkSettings, _field: string): void {}
export class HostNetwork extends pulumi.ComponentResource {
  readonly ready: pulumi.Resource;
  constructor(name: string, args: HostNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    validateNetworkSettings(args, "network");
    super("debvisor:network:HostNetwork", name, {}, opts);
    this.ready = this;
    this.registerOutputs({});
  }
}
