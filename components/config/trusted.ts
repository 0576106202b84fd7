/**
 * Marks args whose settings were validated already (as a whole, before anything was
 * registered: by the stack loader, a DebVisorCluster or a DebVisorNode), so the
 * components they are handed to do not check them again. Internal: not exported from
 * the package.
 */
export const VALIDATED: unique symbol = Symbol("debvisor.validated");

export type Trusted = { [VALIDATED]?: true };

/** True when `args` was handed over by a DebVisorNode that validated it. */
export function alreadyValidated(args: object): boolean {
  return (args as Trusted)[VALIDATED] === true;
}

/** Args handed to a component after their settings were validated by the caller. */
export function trusted<T extends object>(args: T): T {
  return { ...args, [VALIDATED]: true };
}

/** Copies args without the host (the settings part) for validation. */
export function settingsOf<T extends { host?: unknown }>(args: T): Omit<T, "host"> {
  const { host: _host, ...rest } = args;
  return rest;
}
