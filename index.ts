import { deployFromPulumiConfig, stackOutputs } from "./stacks/index.js";

// The DebVisor program: one typed, validated stack config -> one DebVisorCluster.
// Invalid config throws before any resource is registered.
const cluster = await deployFromPulumiConfig();

/** What each node now is: address, SSH port, profile and the facts its base layer reported. */
export const nodes = stackOutputs(cluster);
