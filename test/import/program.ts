// A user's own Pulumi program: it installs DebVisor as a package and imports it by name.
import * as pulumi from "@pulumi/pulumi";
import { DebVisorNode, type DebVisorNodeArgs } from "debvisor";

const args: DebVisorNodeArgs = {
  host: {
    address: "192.0.2.10",
    user: "provision",
    privateKey: pulumi.secret("-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n"),
    hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq9rJ2m0o0n9X0N3m2yYb1V5c6dE7fG8hI9jK0lM1nO",
  },
  profile: "compute",
  base: { release: "trixie", packages: ["htop"] },
};

export const node = new DebVisorNode("edge1", args);
export const profile = node.profile;
