import * as pulumi from "@pulumi/pulumi";
import { DebVisorCluster } from "./components/index.js";
import { loadStackConfig } from "./stacks/index.js";

// The DebVisor program: one typed, validated stack config -> one DebVisorCluster.
// Invalid config throws here, before any resource is registered.
const config = new pulumi.Config("debvisor");
const args = loadStackConfig(config.requireObject<unknown>("cluster"), {
  sshPrivateKey: config.get("sshPrivateKey") !== undefined ? config.requireSecret("sshPrivateKey") : undefined,
});
const cluster = new DebVisorCluster("debvisor", args);

/** What each node now is, from the facts its base layer reported. */
export const nodes = Object.fromEntries(
  Object.entries(cluster.nodes).map(([name, node]) => [name, { address: node.address, profile: node.profile, facts: node.facts }]),
);
