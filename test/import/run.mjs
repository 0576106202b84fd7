// Runs the compiled scratch program under Pulumi mocks and prints what it registered.
import * as pulumi from "@pulumi/pulumi";

const registered = [];
await pulumi.runtime.setMocks({
  newResource(args) {
    registered.push(`${args.type} ${args.name}`);
    return { id: `${args.name}-id`, state: { ...args.inputs, stdout: "" } };
  },
  call: (args) => args.inputs,
});
const program = await import("./program.js");
await pulumi.runtime.waitForRPCs?.();
await new Promise((r) => setTimeout(r, 200));
console.log(JSON.stringify({ profile: program.profile, registered: registered.sort() }));
