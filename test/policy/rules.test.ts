import { describe, expect, it } from "vitest";
import { installMocks } from "../support/mocks.js";
import { fakeFiles, validStackConfig } from "../support/fixtures.js";
import { checkResource, RULES } from "../../policy/rules.js";

// The policy rules, fed with the registrations a real unit run records.
const mocks = await installMocks();
const { deployStack } = await import("../../stacks/index.js");

describe("policy pack rules", () => {
  it("the dev-like stack complies", async () => {
    deployStack(validStackConfig(), { readFile: fakeFiles });
    const regs = await mocks.settle();
    const commands = regs.filter((r) => r.type === "command:remote:Command");
    expect(commands.length).toBeGreaterThan(0);
    for (const r of regs) expect(checkResource(r.type, r.inputs), r.name).toEqual([]);
  });

  it("flags an SSH command without a pinned host key", async () => {
    mocks.reset();
    const cfg = validStackConfig(1);
    delete cfg.nodes[0].hostKeyFile;
    cfg.nodes[0].insecureSkipHostKeyCheck = true;
    deployStack(cfg, { readFile: fakeFiles });
    const regs = await mocks.settle();
    const cmd = regs.find((r) => r.type === "command:remote:Command")!;
    expect(checkResource(cmd.type, cmd.inputs)).toEqual([{ rule: "remote-command-pinned-host-key", message: "connection to 10.213.0.12 has no pinned hostKey" }]);
  });

  it("flags environment variables, previous output in env and key material in a command line", () => {
    const bad = { connection: { host: "h", hostKey: "ssh-ed25519 AAAA" }, environment: { DV_X: "1" }, create: "echo '-----BEGIN OPENSSH PRIVATE KEY-----'" };
    expect(checkResource("command:remote:Command", bad).map((v) => v.rule).sort()).toEqual([
      "remote-command-no-environment", "remote-command-no-environment", "remote-command-no-key-in-command",
    ]);
  });

  it("every rule has a unique name and a description", () => {
    expect(new Set(RULES.map((r) => r.name)).size).toBe(RULES.length);
    for (const r of RULES) expect(r.description.length).toBeGreaterThan(10);
  });
});
