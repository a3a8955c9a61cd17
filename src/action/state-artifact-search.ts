/**
 * Finding a bottle's newest state artifact without knowing the run that made it.
 *
 * The REST API lists a repository's artifacts by exact name across every run
 * (`GET /repos/{owner}/{repo}/actions/artifacts?name=`). The default names carry the
 * attempt that saved them (`bottle-<identity>-attempt-<n>-state.tar`: a name is unique
 * within a run, re-runs included), so the search asks for attempt 1, 2, … and stops
 * after two attempt numbers in a row that no run has: attempts of a run are numbered
 * without gaps, and one attempt that ended before saving is stepped over. A given
 * `artifact-name` is asked for as it is.
 *
 * Of what it finds it takes the newest. It skips expired artifacts and any made by a
 * run from a fork: a pull request from a fork runs in this repository and may upload
 * under any name, so its artifacts are never taken for the bottle's state.
 */
import { defaultArtifactName, stateArchiveArtifactName } from "./artifact.js";

/** An artifact as the REST API describes it (the fields read here). */
export interface RestArtifact {
  id: number;
  name: string;
  expired: boolean;
  created_at?: string | null;
  digest?: string | null;
  workflow_run?: { id?: number; repository_id?: number; head_repository_id?: number } | null;
}

export interface StateArtifact {
  id: number;
  name: string;
  runId: number;
  digest: string | null;
}

export interface StateArtifactSearch {
  found: StateArtifact | null;
  /** The names asked for, for a message when nothing was found. */
  asked: string[];
  /** Artifacts passed over, each with why (a fork's run). */
  skipped: string[];
}

const MAX_ATTEMPTS = 50;
const MISSES_TO_STOP = 2;

/** `listByName` returns every artifact of the repository with exactly that name. */
export async function findStateArtifact(
  listByName: (name: string) => Promise<RestArtifact[]>,
  base: { identity: string } | { artifactName: string },
): Promise<StateArtifactSearch> {
  const asked: string[] = [];
  const candidates: RestArtifact[] = [];
  if ("artifactName" in base) {
    asked.push(stateArchiveArtifactName(base.artifactName));
    candidates.push(...(await listByName(stateArchiveArtifactName(base.artifactName))));
  } else {
    let misses = 0;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && misses < MISSES_TO_STOP; attempt++) {
      const name = stateArchiveArtifactName(defaultArtifactName(base.identity, attempt));
      asked.push(name);
      const listed = await listByName(name);
      misses = listed.length === 0 ? misses + 1 : 0;
      candidates.push(...listed);
    }
  }
  const skipped: string[] = [];
  const usable = candidates.filter((a) => {
    if (a.expired) return false;
    const run = a.workflow_run;
    if (!run?.id || run.head_repository_id === undefined || run.head_repository_id !== run.repository_id) {
      skipped.push(`artifact ${a.name} (id ${a.id}) of run ${run?.id ?? "?"}: made by a run from a fork`);
      return false;
    }
    return true;
  });
  const newest = usable.sort((a, b) => (b.created_at ?? "").localeCompare(a.created_at ?? "") || b.id - a.id)[0];
  const found = newest
    ? { id: newest.id, name: newest.name, runId: newest.workflow_run?.id as number, digest: newest.digest ?? null }
    : null;
  return { found, asked, skipped };
}
