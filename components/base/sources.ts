/** Debian releases DebVisor supports; the architecture card's default is bookworm. */
export const RELEASES = ["bookworm", "trixie"] as const;
export type DebianRelease = (typeof RELEASES)[number];
export const DEFAULT_RELEASE: DebianRelease = "bookworm";

export interface AptSourcesOptions {
  release: DebianRelease;
  /** Debian archive mirror. */
  mirror: string;
  /** Debian security archive mirror. */
  securityMirror: string;
  contrib: boolean;
  nonFree: boolean;
  backports: boolean;
}

// trixie's debian-archive-keyring ships the keyring as .pgp, bookworm's as .gpg.
const KEYRING: Record<DebianRelease, string> = {
  bookworm: "/usr/share/keyrings/debian-archive-keyring.gpg",
  trixie: "/usr/share/keyrings/debian-archive-keyring.pgp",
};

export function keyringFor(release: DebianRelease): string {
  return KEYRING[release];
}

/** The deb822 `debian.sources` file for a release. */
export function renderDebianSources(o: AptSourcesOptions): string {
  const components = ["main", ...(o.contrib ? ["contrib"] : []), ...(o.nonFree ? ["non-free", "non-free-firmware"] : [])].join(" ");
  const suites = [o.release, `${o.release}-updates`, ...(o.backports ? [`${o.release}-backports`] : [])].join(" ");
  const stanza = (uri: string, s: string) =>
    [`Types: deb`, `URIs: ${uri}`, `Suites: ${s}`, `Components: ${components}`, `Signed-By: ${KEYRING[o.release]}`].join("\n");
  return `# Managed by DebVisor: changes here are overwritten.\n${stanza(o.mirror, suites)}\n\n${stanza(o.securityMirror, `${o.release}-security`)}\n`;
}

/** apt proxy configuration, or "" for none. */
export function renderAptProxy(proxy: string | undefined): string {
  return proxy ? `# Managed by DebVisor.\nAcquire::http::Proxy "${proxy}";\n` : "";
}
