import { isHttpUrl } from "../config/formats.js";
import { checkSettings } from "../config/problems.js";
import { PARTITIONING, preseedRules, preseedSchema } from "./schema.js";
import { RELEASES, type DebianRelease } from "../base/sources.js";
import { DEFAULT_PROVISION_SCRIPT, FIRSTBOOT_RUNNER, FIRSTBOOT_RUNNER_SCRIPT, FIRSTBOOT_SERVICE, FIRSTBOOT_UNIT, PROVISION_SCRIPT } from "./units.js";

export { PARTITIONING };
export type Partitioning = (typeof PARTITIONING)[number];

/** Installer settings of a node (stack config `preseed`). */
export interface PreseedSettings {
  /** Host name the installer sets. @default the node's name */
  hostname?: string;
  /** The disk the installer erases and installs on: named explicitly, never guessed. */
  installDisk: string;
  /** `atomic`: one root filesystem and swap; `lvm`: the same on LVM. @default "lvm" */
  partitioning?: Partitioning;
  /** SSH public keys of the provisioning user (at least one: password logins are off). */
  authorizedKeys: string[];
  /** DNS domain of the node. @default "" */
  domain?: string;
  /** Keyboard layout (xkb). @default "us" */
  keymap?: string;
}

export interface PreseedOptions extends PreseedSettings {
  hostname: string;
  /** The provisioning user (root or a sudoer with NOPASSWD). */
  user: string;
  release: DebianRelease;
  locale: string;
  timezone: string;
  mirror: string;
  securityMirror: string;
  aptProxy?: string;
  contrib: boolean;
  nonFree: boolean;
  /** The node's first-boot provisioning script. @default DEFAULT_PROVISION_SCRIPT */
  provisionScript?: string;
}

/** Throws a ConfigError naming each bad field and its value. */
export function validatePreseedSettings(p: PreseedSettings, field = "preseed"): void {
  checkSettings(preseedSchema, p, field, preseedRules);
}

function splitMirror(url: string): { protocol: string; host: string; directory: string } {
  const u = new URL(url);
  return { protocol: u.protocol.replace(":", ""), host: u.host, directory: u.pathname.replace(/\/$/, "") || "/" };
}

/** A shell script that writes files with the given modes (base64 payloads: no quoting issues). */
function fileWriter(files: { path: string; mode: string; text: string; owner?: string }[], extra: string[]): string {
  const lines = ["set -e"];
  for (const f of files) {
    lines.push(`mkdir -p "$(dirname ${f.path})"`);
    lines.push(`echo ${Buffer.from(f.text).toString("base64")} | base64 -d >${f.path}`);
    lines.push(`chmod ${f.mode} ${f.path}`);
    if (f.owner) lines.push(`chown ${f.owner} ${f.path}`);
  }
  return [...lines, ...extra, ""].join("\n");
}

/** The late command's script: provisioning user's key and sudo, the first-boot unit, enabled. */
export function renderLateScript(o: PreseedOptions): string {
  const home = o.user === "root" ? "/root" : `/home/${o.user}`;
  const files = [
    { path: `${home}/.ssh/authorized_keys`, mode: "600", text: `${o.authorizedKeys.join("\n")}\n`, owner: `${o.user}:${o.user}` },
    ...(o.user === "root" ? [] : [{ path: `/etc/sudoers.d/90-debvisor-${o.user}`, mode: "440", text: `# Managed by DebVisor: the provisioning user.\n${o.user} ALL=(ALL) NOPASSWD:ALL\n` }]),
    { path: PROVISION_SCRIPT, mode: "755", text: o.provisionScript ?? DEFAULT_PROVISION_SCRIPT },
    { path: FIRSTBOOT_RUNNER, mode: "755", text: FIRSTBOOT_RUNNER_SCRIPT },
    { path: `/etc/systemd/system/${FIRSTBOOT_UNIT}`, mode: "644", text: FIRSTBOOT_SERVICE },
  ];
  return fileWriter(files, [`chmod 700 ${home}/.ssh`, `chown ${o.user}:${o.user} ${home}/.ssh`, `systemctl enable ${FIRSTBOOT_UNIT}`]);
}

/**
 * A Debian installer preseed for one node, from the same stack config: release, locale,
 * timezone, mirror and proxy, the partitioning recipe on the named disk, the provisioning
 * user with its SSH key (no password), and a late command that installs and enables the
 * first-boot unit. Check it with `debconf-set-selections --checkonly`.
 */
export function renderPreseed(o: PreseedOptions): string {
  const { hostname, installDisk, partitioning, authorizedKeys, domain, keymap } = o;
  validatePreseedSettings({ hostname, installDisk, partitioning, authorizedKeys, domain, keymap });
  if (!RELEASES.includes(o.release)) throw new Error(`preseed.release: must be one of ${RELEASES.join(", ")}, got ${JSON.stringify(o.release)}`);
  for (const f of ["mirror", "securityMirror"] as const) if (!isHttpUrl(o[f])) throw new Error(`preseed.${f}: not an http(s) URL, got ${JSON.stringify(o[f])}`);
  const m = splitMirror(o.mirror);
  const sec = splitMirror(o.securityMirror);
  const lang = o.locale.split("_")[0];
  const country = o.locale.split("_")[1].split(".")[0];
  const late = Buffer.from(renderLateScript(o)).toString("base64");
  const rootUser = o.user === "root";
  const d = (key: string, type: string, value: string) => `d-i ${key} ${type} ${value}`.trimEnd();
  const lines = [
    `# DebVisor preseed for ${o.hostname} (Debian ${o.release}). Generated: edit the stack config, not this file.`,
    "# Localization",
    d("debian-installer/locale", "string", o.locale),
    d("debian-installer/language", "string", lang),
    d("debian-installer/country", "string", country),
    d("keyboard-configuration/xkb-keymap", "select", o.keymap ?? "us"),
    "# Network",
    d("netcfg/choose_interface", "select", "auto"),
    d("netcfg/get_hostname", "string", o.hostname),
    d("netcfg/hostname", "string", o.hostname),
    d("netcfg/get_domain", "string", o.domain ?? ""),
    "# Mirror",
    d("mirror/country", "string", "manual"),
    d("mirror/protocol", "string", m.protocol),
    d(`mirror/${m.protocol}/hostname`, "string", m.host),
    d(`mirror/${m.protocol}/directory`, "string", m.directory),
    d(`mirror/${m.protocol}/proxy`, "string", o.aptProxy ?? ""),
    d("mirror/suite", "string", o.release),
    d("apt-setup/services-select", "multiselect", "security, updates"),
    d("apt-setup/security_host", "string", sec.host),
    d("apt-setup/security_path", "string", sec.directory),
    d("apt-setup/contrib", "boolean", String(o.contrib)),
    d("apt-setup/non-free", "boolean", String(o.nonFree)),
    d("apt-setup/non-free-firmware", "boolean", String(o.nonFree)),
    d("apt-setup/disable-cdrom-entries", "boolean", "true"),
    "# Accounts: no passwords; the provisioning user logs in with its SSH key",
    ...(rootUser
      ? [d("passwd/root-login", "boolean", "true"), d("passwd/root-password-crypted", "password", "!"), d("passwd/make-user", "boolean", "false")]
      : [
          d("passwd/root-login", "boolean", "false"),
          d("passwd/make-user", "boolean", "true"),
          d("passwd/user-fullname", "string", "DebVisor provisioning"),
          d("passwd/username", "string", o.user),
          d("passwd/user-password-crypted", "password", "!"),
          d("passwd/user-default-groups", "string", "sudo"),
        ]),
    "# Clock",
    d("clock-setup/utc", "boolean", "true"),
    d("time/zone", "string", o.timezone),
    d("clock-setup/ntp", "boolean", "true"),
    `# Partitioning: erases ${o.installDisk} (and only it)`,
    d("partman-auto/disk", "string", o.installDisk),
    d("partman-auto/method", "string", o.partitioning === "atomic" ? "regular" : "lvm"),
    d("partman-auto/choose_recipe", "select", "atomic"),
    d("partman-auto-lvm/guided_size", "string", "max"),
    d("partman-lvm/device_remove_lvm", "boolean", "true"),
    d("partman-md/device_remove_md", "boolean", "true"),
    d("partman-lvm/confirm", "boolean", "true"),
    d("partman-lvm/confirm_nooverwrite", "boolean", "true"),
    d("partman-partitioning/confirm_write_new_label", "boolean", "true"),
    d("partman/choose_partition", "select", "finish"),
    d("partman/confirm", "boolean", "true"),
    d("partman/confirm_nooverwrite", "boolean", "true"),
    d("partman-efi/non_efi_system", "boolean", "true"),
    "# Packages",
    "tasksel tasksel/first multiselect ssh-server, standard",
    d("pkgsel/include", "string", "openssh-server sudo ca-certificates python3 curl"),
    d("pkgsel/upgrade", "select", "full-upgrade"),
    "popularity-contest popularity-contest/participate boolean false",
    "# Boot loader",
    d("grub-installer/only_debian", "boolean", "true"),
    d("grub-installer/bootdev", "string", "default"),
    "# The first-boot unit (and the provisioning user's key), then reboot",
    d("preseed/late_command", "string", `in-target sh -c 'echo ${late} | base64 -d >/tmp/debvisor-late.sh && sh /tmp/debvisor-late.sh && rm -f /tmp/debvisor-late.sh'`),
    d("finish-install/reboot_in_progress", "note", ""),
    "",
  ];
  return lines.join("\n");
}
