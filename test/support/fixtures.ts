/** Canary secrets: a test fails if one of these shows up outside a secret wrapper. */
export const CANARY_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nCANARY-7f3e9a1c-private-key-material\n-----END OPENSSH PRIVATE KEY-----\n";
export const CANARY_TOKEN = "CANARY-token-5b2d8e4f";
export const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq9rJ2m0o0n9X0N3m2yYb1V5c6dE7fG8hI9jK0lM1nO";
export const HOST_KEY_2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPz8y7x6w5v4u3t2s1r0q9p8o7n6m5l4k3j2i1h0g9f8";

/** A valid stack config for n nodes (files are served by `fakeFiles`). */
export function validStackConfig(n = 3): any {
  return {
    defaults: { user: "debvisor", privateKeyFile: "/lab/id_ed25519", release: "bookworm", aptProxy: "http://10.213.0.1:3142" },
    nodes: Array.from({ length: n }, (_, i) => ({ name: `n${i + 1}`, address: `10.213.${Math.floor((i + 11) / 250)}.${((i + 11) % 250) + 1}`, hostKeyFile: `/lab/hostkeys/n${i + 1}.pub` })),
  };
}

export function fakeFiles(path: string): string {
  if (path === "/lab/id_ed25519") return CANARY_KEY;
  if (path.startsWith("/lab/hostkeys/")) return `${HOST_KEY}\n`;
  const e = new Error(`ENOENT: ${path}`) as NodeJS.ErrnoException;
  e.code = "ENOENT";
  throw e;
}
