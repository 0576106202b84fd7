import { describe, expect, it } from "vitest";
import { renderAptProxy, renderDebianSources, validateDebianBaseArgs } from "../../components/base/index.js";

const defaults = { mirror: "http://deb.debian.org/debian", securityMirror: "http://deb.debian.org/debian-security", contrib: false, nonFree: false, backports: false };

describe("DebianBase sources", () => {
  it("renders bookworm", () => {
    expect(renderDebianSources({ ...defaults, release: "bookworm" })).toBe(
      [
        "# Managed by DebVisor: changes here are overwritten.",
        "Types: deb", "URIs: http://deb.debian.org/debian", "Suites: bookworm bookworm-updates", "Components: main",
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg", "",
        "Types: deb", "URIs: http://deb.debian.org/debian-security", "Suites: bookworm-security", "Components: main",
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg", "",
      ].join("\n"),
    );
  });
  it("renders trixie with contrib, non-free and backports", () => {
    const s = renderDebianSources({ ...defaults, release: "trixie", contrib: true, nonFree: true, backports: true, mirror: "http://mirror.example/debian" });
    expect(s).toContain("URIs: http://mirror.example/debian\nSuites: trixie trixie-updates trixie-backports\nComponents: main contrib non-free non-free-firmware\nSigned-By: /usr/share/keyrings/debian-archive-keyring.pgp");
    expect(s).toContain("Suites: trixie-security\n");
    expect(s).not.toContain("bookworm");
  });
  it("renders the apt proxy, or nothing", () => {
    expect(renderAptProxy("http://10.213.0.1:3142")).toContain('Acquire::http::Proxy "http://10.213.0.1:3142";');
    expect(renderAptProxy(undefined)).toBe("");
  });
  it("validation names the field and value", () => {
    expect(() => validateDebianBaseArgs({ release: "buster" as any })).toThrow('base.release: must be one of bookworm, trixie, got "buster"');
    expect(() => validateDebianBaseArgs({ packages: ["jq", "Bad Name"] })).toThrow('base.packages[1]: not a Debian package name, got "Bad Name"');
    expect(() => validateDebianBaseArgs({ aptProxy: "ftp://x" })).toThrow('base.aptProxy: not an http(s) URL, got "ftp://x"');
    expect(() => validateDebianBaseArgs({ locale: "en_US" })).toThrow(/base\.locale/);
    expect(() => validateDebianBaseArgs({})).not.toThrow();
  });
});
