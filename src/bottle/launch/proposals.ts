/**
 * Hears of capability-block proposals on the supervise sidecar's stdout and reads
 * each from the file the sidecar wrote, through the archive API. What it reads is
 * the agent's text, so it is parsed and checked again here; `accepted` is aborted
 * once one passes.
 */
import type { DockerClient } from "../../docker/client.js";
import { errorMessage } from "../../errors.js";
import type { Log } from "../../log/log.js";
import { PROPOSALS_DIR, type Proposal, ProposalSchema } from "../../supervise/config.js";
import { dockerfileProblem } from "../../supervise/dockerfile.js";
import { readTarFiles } from "../archive.js";

/** A proposal file is at most a Dockerfile's limit plus its reason: anything far larger is refused. */
export const PROPOSAL_READ_LIMIT = 1024 * 1024;

export class ProposalWatch {
  proposal: Proposal | null = null;
  private readonly controller = new AbortController();
  private container: string | null = null;
  private reading: Promise<void> = Promise.resolve();

  constructor(
    private readonly docker: DockerClient,
    private readonly log: Log,
  ) {}

  get accepted(): AbortSignal {
    return this.controller.signal;
  }

  watch(container: string): void {
    this.container = container;
  }

  accept(line: string): void {
    let event: { event?: unknown };
    try {
      event = JSON.parse(line) as { event?: unknown };
    } catch {
      return;
    }
    if (event.event === "proposal") this.reading = this.reading.then(() => this.collect());
    else if (event.event === "capability-block") {
      const decision = (event as { decision?: unknown }).decision;
      if (decision === "denied" || decision === "refused")
        this.log.info(`capability-block ${String(decision)} by the supervise server`);
    }
  }

  /** At the end of the session, with the sidecar still up: a last look for a proposal. */
  async finish(): Promise<void> {
    await this.reading;
    await this.collect();
  }

  /** Reads the sidecar's proposals directory; the first valid proposal wins. */
  private async collect(): Promise<void> {
    if (this.proposal || !this.container) return;
    try {
      const tar = await this.docker.getArchive(this.container, PROPOSALS_DIR);
      if (!tar) return;
      const files = [...(await readTarFiles(tar, PROPOSAL_READ_LIMIT)).entries()]
        .filter(([name]) => name.endsWith(".json"))
        .sort(([a], [b]) => a.localeCompare(b, "en", { numeric: true }));
      for (const [name, content] of files) {
        const parsed = ProposalSchema.safeParse(JSON.parse(content.toString("utf8")) as unknown);
        const problem = parsed.success ? dockerfileProblem(parsed.data.dockerfile) : "it is not a proposal";
        if (!parsed.success || problem) {
          this.log.warn(`ignored the proposal ${name} from the supervise server: ${problem}`);
          continue;
        }
        this.proposal = parsed.data;
        this.controller.abort();
        return;
      }
    } catch (error) {
      this.log.warn(`reading the capability-block proposal failed: ${errorMessage(error)}`);
    }
  }
}
