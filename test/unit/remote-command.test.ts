import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { installMocks } from "../support/mocks.js";
import { CANARY_KEY } from "../support/fixtures.js";

// DebVisor registers command:remote:Command through a lean class of its own. Converged
// stacks must see no difference: the same inputs, secrets and options as the SDK class.
const mocks = await installMocks();
const pulumi = await import("@pulumi/pulumi");
const command = await import("@pulumi/command");
const { RemoteCommand } = await import("../../components/host/index.js");

describe("RemoteCommand", () => {
  it("registers what the SDK's Command registers", async () => {
    mocks.reset();
    const inputs = {
      connection: { host: "10.0.0.1", port: 22, user: "root", privateKey: pulumi.secret(CANARY_KEY), hostKey: "ssh-ed25519 AAAA", dialErrorLimit: 10, perDialTimeout: 15 },
      create: "bash -c x", delete: "bash -c y", stdin: "payload", triggers: ["t1"], addPreviousOutputInEnv: false, logging: "none" as const,
    };
    new command.remote.Command("sdk", inputs, { additionalSecretOutputs: ["stdout", "stderr"] });
    const lean = new RemoteCommand("lean", inputs, { additionalSecretOutputs: ["stdout", "stderr"] });
    const regs = await mocks.settle();
    const raw = (n: string) => regs.find((r) => r.name === n)!.raw;
    expect(raw("lean")).toEqual(raw("sdk"));
    const options = (n: string) => regs.find((r) => r.name === n)!.options;
    expect(options("lean")).toEqual(options("sdk"));
    expect(options("lean").version).toBe("1.2.1");
    expect(await (lean.stdout as any).promise()).toBe("");
  });

  it("asks for the provider version of the installed @pulumi/command", () => {
    const installed = JSON.parse(readFileSync("node_modules/@pulumi/command/package.json", "utf8")).version;
    expect(readFileSync("components/host/remote-step.ts", "utf8")).toContain(`COMMAND_PROVIDER_VERSION = "${installed}"`);
  });
});
