/**
 * The one pattern for names a user gives: bottles, agents and credential routes. An
 * agent name becomes part of identities, container names and cache keys. It sits at
 * the bottom of the import graph, with no schema library, so the CLI's entry, the
 * manifest and the gate's config can all take it from here.
 */
export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,39}$/;
