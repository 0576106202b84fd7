import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { parseFacts, renderCommand, renderParams, renderPayload, stepTrigger } from "../../components/host/index.js";

describe("RemoteStep rendering", () => {
  it("trigger changes with the script or a parameter, and not otherwise", () => {
    const base = stepTrigger("base/packages.sh", { DV_PACKAGES: "jq" }, [], 900);
    expect(stepTrigger("base/packages.sh", { DV_PACKAGES: "jq" }, [], 900)).toBe(base);
    expect(stepTrigger("base/packages.sh", { DV_PACKAGES: "jq curl" }, [], 900)).not.toBe(base);
    expect(stepTrigger("base/locale.sh", { DV_PACKAGES: "jq" }, [], 900)).not.toBe(base);
    expect(stepTrigger("base/packages.sh", { DV_PACKAGES: "jq" }, [], 60)).not.toBe(base);
    expect(stepTrigger("base/packages.sh", { DV_PACKAGES: "jq" }, ["DV_TOKEN"], 900)).not.toBe(base);
  });

  it("parameters survive any characters, as bash reads them", () => {
    const nasty = `it's "quoted" $HOME \`id\` \\ ; rm -rf / \n second line`;
    const out = execFileSync("bash", ["-c", `${renderParams({ DV_X: nasty })}printf %s "$DV_X"`], { encoding: "utf8" });
    expect(out).toBe(nasty);
  });

  it("rejects parameter names outside DV_*", () => {
    expect(() => renderParams({ PATH: "x" })).toThrow(/"PATH": names must match/);
  });

  it("the command line carries no parameter and uses sudo only for non-root users", () => {
    const root = renderCommand("root", 900);
    const user = renderCommand("debvisor", 900);
    expect(root.startsWith("bash -c ")).toBe(true);
    expect(user.startsWith("sudo -n bash -c ")).toBe(true);
    expect(user).toContain("timeout --kill-after=15 900");
    expect(root).not.toContain("DV_");
  });

  it("the payload runs strict, with the prelude, and its script", () => {
    const p = renderPayload("base/packages.sh", { DV_PACKAGES: "jq" });
    expect(p.startsWith("#!/bin/bash\nset -euo pipefail\nexport DV_PACKAGES=jq\n")).toBe(true);
    expect(p).toContain("dv_install()");
    expect(p).toContain('dv_install "${pkgs[@]}"');
  });

  it("the wrapper runs the payload from stdin with stdin closed for the script", () => {
    // Run the real wrapper locally (as this user, no sudo): a script that reads stdin
    // must not see the rest of the payload.
    const payload = renderPayload("base/packages.sh", { DV_PACKAGES: "" }).replace(/# --- base\/packages\.sh[\s\S]*$/, 'if read -r line; then echo "ate: $line"; else echo "stdin closed"; fi\ndv_fact answer 42\n');
    const cmd = renderCommand("root", 30).replace("/run/", `${process.env.TMPDIR ?? "/tmp"}/`);
    const out = execFileSync("bash", ["-c", cmd], { input: payload, encoding: "utf8" });
    expect(out).toContain("stdin closed");
    expect(parseFacts(out)).toEqual({ answer: "42" });
  });

  it("parses facts", () => {
    expect(parseFacts("noise\n@fact a=1\n@fact b.c=x=y\n@changed z\n")).toEqual({ a: "1", "b.c": "x=y" });
  });
});
