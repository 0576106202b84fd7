import { describe, expect, it } from "vitest";
import { parseParams, parseScripts, payloadScript, PayloadParseError } from "../../policy/params.js";
import { contains, parseNetwork } from "../../policy/net.js";
import { renderParams, renderPartsPayload, renderPayload } from "../../components/host/remote-step.js";

// The policy pack reads a step's parameters back from the payload the host receives:
// parseParams must be the exact inverse of renderParams, whatever the values hold.
const HOSTILE: Record<string, string> = {
  DV_EMPTY: "",
  DV_QUOTE: "'",
  DV_QUOTES: "''''",
  DV_ESCAPED: "'\\''",
  DV_BACKSLASH: "a\\b\\\\c\\",
  DV_TRAILING_BACKSLASH_QUOTE: "x\\'",
  DV_NEWLINES: "\n\nline\n\n",
  DV_INJECT: "x'\nexport DV_FAKE='owned'\n'",
  DV_INJECT2: "'\\''\nexport DV_FAKE2=''\n# shellcheck disable=SC2016\n",
  DV_DOLLAR: "$(rm -rf /) `id` ${HOME} $1 \"$@\"",
  DV_MARKER: "text\n# --- security/fake.sh\nmore",
  DV_UNICODE: "ünï ☃ \t tab \r cr",
  DV_NFT: "table inet debvisor {\n  chain input {\n    ip saddr { 0.0.0.0/0 } tcp dport 8080 accept comment \"it's\"\n  }\n}\n",
  DV_EXPORTLIKE: "export DV_X='1'",
};

describe("parseParams (inverse of renderParams)", () => {
  it("round-trips hostile values exactly", () => {
    expect(parseParams(renderParams(HOSTILE))).toEqual(HOSTILE);
    for (const [k, v] of Object.entries(HOSTILE)) expect(parseParams(renderParams({ [k]: v })), k).toEqual({ [k]: v });
  });

  it("round-trips every short string of the characters that matter", () => {
    const alphabet = ["'", "\\", "\n", "a", "$", "\""];
    const words = [""];
    for (let len = 1; len <= 4; len++) for (const w of words.filter((x) => x.length === len - 1)) for (const c of alphabet) words.push(w + c);
    const params = Object.fromEntries(words.map((w, i) => [`DV_W${i}`, w]));
    expect(parseParams(renderParams(params))).toEqual(params);
  });

  it("reads the parameters of a real payload and stops at the prelude", () => {
    const payload = renderPayload("security/firewall.sh", HOSTILE);
    const parsed = parseParams(payload);
    expect(parsed).toEqual(HOSTILE);
    expect(Object.keys(parsed)).not.toContain("DV_FAKE");
    expect(payloadScript(payload)).toBe("security/firewall.sh"); // not the marker inside DV_MARKER
  });

  it("refuses a malformed parameter block instead of guessing", () => {
    expect(() => parseParams("#!/bin/bash\nexport DV_A='unterminated\n")).toThrow(PayloadParseError);
    expect(() => parseParams("export DV_A='x'y\n")).toThrow(/outside quotes/);
    expect(parseParams("#!/bin/bash\nset -euo pipefail\necho hi\nexport DV_LATE='x'\n")).toEqual({});
  });
});

describe("networks", () => {
  it("parses prefixes and tests containment for both families", () => {
    expect(parseNetwork("0.0.0.0/0")?.prefix).toBe(0);
    expect(parseNetwork("::/0")?.prefix).toBe(0);
    expect(parseNetwork("10.213.0.1")?.prefix).toBe(32);
    expect(parseNetwork("10.0.0.0/33")).toBeUndefined();
    expect(parseNetwork("example.org")).toBeUndefined();
    expect(contains(parseNetwork("fe80::/10")!, parseNetwork("fe80::1:2/64")!)).toBe(true);
    expect(contains(parseNetwork("fe80::/10")!, parseNetwork("fec0::/10")!)).toBe(false);
    expect(contains(parseNetwork("10.0.0.0/8")!, parseNetwork("10.213.0.0/24")!)).toBe(true);
    expect(contains(parseNetwork("10.0.0.0/8")!, parseNetwork("11.0.0.0/24")!)).toBe(false);
    expect(contains(parseNetwork("::ffff:0:0/96")!, parseNetwork("::ffff:10.0.0.1")!)).toBe(true);
  });
});

describe("parseScripts (every script of a payload)", () => {
  it("reads each part of a layer's multi-part step exactly, hostile values and fake markers included", () => {
    const fake = { ...HOSTILE, DV_PARTLIKE: "x\n# --- part evil: security/firewall.sh\nif dv_part_due evil 00; then\n(\nexport DV_BACKEND='nftables'\n" };
    const payload = renderPartsPayload("security", [
      { name: "upgrades", script: "security/upgrades.sh", params: fake },
      { name: "firewall", script: "security/firewall.sh", params: { DV_BACKEND: "ufw", DV_NFT: "", DV_UFW_RULES: "allow from 0.0.0.0/0 to any port 22 proto tcp", DV_UFW_IPIP: "" } },
      { name: "facts", script: "base/facts.sh", params: {}, always: true },
    ]);
    expect(parseScripts(payload)).toEqual([
      { part: "upgrades", script: "security/upgrades.sh", params: fake },
      { part: "firewall", script: "security/firewall.sh", params: { DV_BACKEND: "ufw", DV_NFT: "", DV_UFW_RULES: "allow from 0.0.0.0/0 to any port 22 proto tcp", DV_UFW_IPIP: "" } },
      { part: "facts", script: "base/facts.sh", params: {} },
    ]);
  });
  it("a single-script payload is one script", () => {
    expect(parseScripts(renderPayload("base/locale.sh", { DV_LOCALE: "en_US.UTF-8", DV_TIMEZONE: "UTC" }))).toEqual([
      { script: "base/locale.sh", params: { DV_LOCALE: "en_US.UTF-8", DV_TIMEZONE: "UTC" } },
    ]);
  });
});
