import { stepSpec } from "../host/remote-step.js";
import { keyringFor, renderAptProxy, renderDebianSources, type AptSourcesOptions } from "./sources.js";

/** `base/apt-sources.sh`: deb822 sources, the apt proxy, the release's keyring. */
export const aptSourcesStep = (o: AptSourcesOptions & { aptProxy?: string }) =>
  stepSpec("base/apt-sources.sh", { DV_SOURCES: renderDebianSources(o), DV_PROXY_CONF: renderAptProxy(o.aptProxy), DV_KEYRING: keyringFor(o.release) });

/** `base/packages.sh`: the packages to install. */
export const packagesStep = (packages: readonly string[]) => stepSpec("base/packages.sh", { DV_PACKAGES: packages.join(" ") });

/** `base/locale.sh`: system locale and timezone. */
export const localeStep = (locale: string, timezone: string) => stepSpec("base/locale.sh", { DV_LOCALE: locale, DV_TIMEZONE: timezone });

/** `base/facts.sh`: reports what the host is; no parameters. */
export const factsStep = () => stepSpec("base/facts.sh", {});
