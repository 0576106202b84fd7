// One measurement in a fresh process: construct the DebVisor program for N nodes under
// Pulumi mocks and report wall time (construction until every registration settled)
// and the process's peak RSS.
//   node construct-one.js N PROFILE NETWORKS   (NETWORKS: "cidr" = one /8 for the
//   cluster, as a large site would configure; "per-node" = the default, every node's
//   address)
import * as pulumi from "@pulumi/pulumi";

const [n, profile, networks] = [Number(process.argv[2]), process.argv[3] ?? "hyperconverged", process.argv[4] ?? "cidr"];
let resources = 0;
await pulumi.runtime.setMocks({
  newResource: (args) => {
    resources++;
    return { id: `${args.name}-id`, state: { ...args.inputs, stdout: "" } };
  },
  call: (args) => args.inputs,
});
const { deployStack } = await import("../../stacks/index.js");

const hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq9rJ2m0o0n9X0N3m2yYb1V5c6dE7fG8hI9jK0lM1nO";
const config = {
  defaults: {
    user: "debvisor", privateKeyFile: "/bench/id_ed25519", aptProxy: "http://10.0.0.1:3142", profile,
    ...(networks === "cidr" ? { security: { clusterNetworks: ["10.0.0.0/8"] } } : {}),
  },
  nodes: Array.from({ length: n }, (_, i) => ({ name: `n${i + 1}`, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, hostKey })),
};
const readFile = () => "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n-----END OPENSSH PRIVATE KEY-----\n";

const start = process.hrtime.bigint();
deployStack(config, { readFile });
await (pulumi.runtime as any).waitForRPCs();
const ms = Number(process.hrtime.bigint() - start) / 1e6;
console.log(JSON.stringify({ nodes: n, profile, networks, resources, ms, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
