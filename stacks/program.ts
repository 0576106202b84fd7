import * as pulumi from "@pulumi/pulumi";
import { DebVisorCluster } from "../components/index.js";
import { loadStackConfig, type LoadOptions } from "./load.js";

/** Validates the stack config, then registers the cluster: bad config registers nothing. */
export function deployStack(raw: unknown, options: LoadOptions = {}): DebVisorCluster {
  return new DebVisorCluster("debvisor", loadStackConfig(raw, options));
}

/** The stack outputs: what each node now is. */
export function stackOutputs(cluster: DebVisorCluster) {
  return Object.fromEntries(
    Object.entries(cluster.nodes).map(([name, node]) => [name, { address: node.address, profile: node.profile, facts: node.facts, ...(node.preseed !== undefined ? { preseed: node.preseed } : {}) }]),
  );
}

/** Reads `debvisor:cluster` (and the optional secret `debvisor:sshPrivateKey`) from the stack. */
export function deployFromPulumiConfig(config = new pulumi.Config("debvisor")): DebVisorCluster {
  return deployStack(config.requireObject<unknown>("cluster"), {
    sshPrivateKey: config.get("sshPrivateKey") !== undefined ? config.requireSecret("sshPrivateKey") : undefined,
  });
}
