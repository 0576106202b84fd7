// One measurement in a fresh process: construct the DebVisor program for N nodes under
// Pulumi mocks and report wall time (construction until every registration settled)
// and the process's peak RSS.
import * as pulumi from "@pulumi/pulumi";

const n = Number(process.argv[2]);
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
  defaults: { user: "debvisor", privateKeyFile: "/bench/id_ed25519", aptProxy: "http://10.0.0.1:3142" },
  nodes: Array.from({ length: n }, (_, i) => ({ name: `n${i + 1}`, address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, hostKey })),
};
const readFile = () => "-----BEGIN OPENSSH PRIVATE KEY-----\nbench\n-----END OPENSSH PRIVATE KEY-----\n";

const start = process.hrtime.bigint();
deployStack(config, { readFile });
await (pulumi.runtime as any).waitForRPCs();
const ms = Number(process.hrtime.bigint() - start) / 1e6;
console.log(JSON.stringify({ nodes: n, resources, ms, peakRssMiB: process.resourceUsage().maxRSS / 1024 }));
