/**
 * Whether the job's results host serves the v4 artifact protocol, asked once before
 * an upload on Gitea or Forgejo. A server without it (Gitea before 1.23) answers the
 * client's first call with a page that is not JSON, which @actions/artifact takes for
 * a passing fault and retries for half a minute; one ListArtifacts call of our own —
 * it changes nothing on the server — tells the two apart at once.
 */
import { errorMessage } from "../errors.js";

const LIST_ARTIFACTS = "twirp/github.actions.results.api.v1.ArtifactService/ListArtifacts";
const TIMEOUT_MS = 10_000;

/** Null when the service answers; otherwise why it does not, for a log line. */
export async function artifactServiceAbsence(env: NodeJS.ProcessEnv): Promise<string | null> {
  const resultsUrl = env.ACTIONS_RESULTS_URL;
  const token = env.ACTIONS_RUNTIME_TOKEN;
  if (!resultsUrl) return "ACTIONS_RESULTS_URL is not set";
  if (!token) return "ACTIONS_RUNTIME_TOKEN is not set";
  const ids = backendIds(token);
  if (!ids) return "the runtime token names no Actions.Results scope";
  let answer: Response;
  try {
    answer = await fetch(new URL(LIST_ARTIFACTS, new URL(resultsUrl).origin), {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ workflow_run_backend_id: ids.run, workflow_job_run_backend_id: ids.job }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await answer.arrayBuffer();
  } catch (error) {
    return `${resultsUrl} cannot be reached (${errorMessage(error)})`;
  }
  return answer.ok ? null : `${resultsUrl} answers ${answer.status} to the v4 artifact protocol`;
}

/** The workflow run and job ids the runner put in the token's `scp` claim, as @actions/artifact reads them. */
function backendIds(token: string): { run: string; job: string } | null {
  try {
    const claims = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as { scp?: unknown };
    const scope = String(claims.scp ?? "")
      .split(" ")
      .map((s) => s.split(":"))
      .find((parts) => parts[0] === "Actions.Results" && parts.length === 3);
    return scope ? { run: scope[1] as string, job: scope[2] as string } : null;
  } catch {
    return null;
  }
}
