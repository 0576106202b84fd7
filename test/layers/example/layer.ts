import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { RemoteStep } from "../../../components/host/index.js";
import { fail } from "../../../components/config/problems.js";
import type { LayerDescriptor } from "../../../components/layer.js";

/**
 * A layer that exists only for the tests: it proves that a layer is one folder plus one
 * line in a catalog. It has settings of its own, a cross-field rule, a firewall
 * contribution and one step (it reuses the base layer's facts script).
 */
export const exampleSchema = z.strictObject({
  motd: z.string().max(80, "at most 80 characters").optional(),
  port: z.number().int().min(1024, "must be 1024 or more").optional(),
  open: z.boolean().optional(),
});

export class ExampleLayer extends pulumi.ComponentResource {
  readonly ready: pulumi.Resource;
  constructor(name: string, args: { host: import("../../../components/host/index.js").ResolvedHost }, opts?: pulumi.ComponentResourceOptions) {
    super("debvisor:test:ExampleLayer", name, {}, opts);
    this.ready = new RemoteStep(`${name}-facts`, { host: args.host, script: "base/facts.sh" }, { parent: this, dependsOn: opts?.dependsOn }).command;
    this.registerOutputs({});
  }
}

export const exampleLayer: LayerDescriptor<z.infer<typeof exampleSchema>> = {
  name: "example",
  settings: {
    key: "example",
    schema: exampleSchema,
    rules: (s) => {
      if (s.open && s.port === undefined) fail("port", "is needed when open is true", s.port);
    },
  },
  heldPackages: ["example-daemon"],
  contribute: (args) => {
    const s = (args as unknown as { example?: z.infer<typeof exampleSchema> }).example ?? {};
    return s.open && s.port ? { firewallRules: [{ protocol: "tcp", ports: [s.port, s.port], comment: "example" }] } : {};
  },
  build(node, after) {
    const component = new ExampleLayer(`${node.name}-example`, { host: node.host }, { parent: node.parent, dependsOn: after ? [after] : [] });
    return { component, ready: component.ready };
  },
};
