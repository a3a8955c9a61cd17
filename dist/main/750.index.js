export const id = 750;
export const ids = [750];
export const modules = {

/***/ 79949:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   $6: () => (/* binding */ RUNNER_LABEL),
/* harmony export */   c4: () => (/* binding */ isNotFound),
/* harmony export */   ss: () => (/* binding */ IDENTITY_LABEL)
/* harmony export */ });
/* unused harmony export ROLE_LABEL */
/** The label every resource carries; list, clean up and detect orphans by it. */
const IDENTITY_LABEL = "claude-bottle.identity";
/** Who created the resource (`<hostname>/<pid>`), so `cleanup` can spare live runners. */
const RUNNER_LABEL = "claude-bottle.runner";
/** What the resource is for: `agent`, `gate`, `internal`, `egress`, `image`. */
const ROLE_LABEL = "claude-bottle.role";
/** Docker's own message for a missing object, so callers can treat "already gone" as success. */
function isNotFound(error) {
    return typeof error === "object" && error !== null && error.statusCode === 404;
}


/***/ }),

/***/ 10750:
/***/ ((__unused_webpack_module, __webpack_exports__, __webpack_require__) => {

__webpack_require__.r(__webpack_exports__);
/* harmony export */ __webpack_require__.d(__webpack_exports__, {
/* harmony export */   DockerodeClient: () => (/* binding */ DockerodeClient),
/* harmony export */   lineSplitter: () => (/* binding */ lineSplitter)
/* harmony export */ });
/* harmony import */ var dockerode__WEBPACK_IMPORTED_MODULE_0__ = __webpack_require__(39040);
/* harmony import */ var dockerode__WEBPACK_IMPORTED_MODULE_0___default = /*#__PURE__*/__webpack_require__.n(dockerode__WEBPACK_IMPORTED_MODULE_0__);
/* harmony import */ var node_stream__WEBPACK_IMPORTED_MODULE_1__ = __webpack_require__(57075);
/* harmony import */ var node_stream__WEBPACK_IMPORTED_MODULE_1___default = /*#__PURE__*/__webpack_require__.n(node_stream__WEBPACK_IMPORTED_MODULE_1__);
/* harmony import */ var _client_js__WEBPACK_IMPORTED_MODULE_2__ = __webpack_require__(79949);
/**
 * The dockerode implementation of `DockerClient`.
 *
 * Connection settings come from dockerode's defaults (DOCKER_HOST or the local
 * socket). Exec and log streams are demultiplexed with the modem's own demuxer,
 * both sides are awaited to the end, and the raw stream is destroyed in `finally`
 * so a failed exec never leaves a socket open.
 */



function envList(env) {
    return Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`);
}
function labelFilters(labels) {
    return JSON.stringify({ label: labels });
}
/** Splits a byte stream into lines, handing each complete line to `onLine`. */
function lineSplitter(onLine) {
    let pending = "";
    return {
        push(chunk) {
            pending += chunk.toString("utf8");
            let nl;
            while ((nl = pending.indexOf("\n")) >= 0) {
                onLine(pending.slice(0, nl).replace(/\r$/, ""));
                pending = pending.slice(nl + 1);
            }
        },
        flush() {
            if (pending.length > 0)
                onLine(pending);
            pending = "";
        },
    };
}
class DockerodeClient {
    docker;
    constructor(docker = new (dockerode__WEBPACK_IMPORTED_MODULE_0___default())()) {
        this.docker = docker;
    }
    async ping() {
        await this.docker.ping();
    }
    async runtimes() {
        const info = (await this.docker.info());
        return Object.keys(info.Runtimes ?? {});
    }
    async imageExists(ref) {
        try {
            await this.docker.getImage(ref).inspect();
            return true;
        }
        catch (error) {
            if ((0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error))
                return false;
            throw error;
        }
    }
    async buildImage(request, onLog) {
        const stream = await this.docker.buildImage(request.context, {
            t: request.tag,
            dockerfile: request.dockerfile,
            buildargs: request.buildArgs,
            labels: request.labels,
            rm: true,
            forcerm: true,
        });
        await new Promise((resolve, reject) => {
            this.docker.modem.followProgress(stream, (error, output) => {
                if (error)
                    return reject(error);
                const failed = output.find((o) => o.error);
                if (failed)
                    return reject(new Error(failed.errorDetail?.message ?? failed.error));
                resolve();
            }, (event) => {
                const text = event.stream ?? event.status;
                if (text)
                    for (const line of text.split("\n"))
                        if (line.trim())
                            onLog(line);
            });
        });
    }
    async pullImage(ref) {
        const stream = await this.docker.pull(ref);
        await new Promise((resolve, reject) => {
            this.docker.modem.followProgress(stream, (error) => (error ? reject(error) : resolve()));
        });
    }
    async removeImage(ref) {
        try {
            await this.docker.getImage(ref).remove({ force: true });
        }
        catch (error) {
            if (!(0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error))
                throw error;
        }
    }
    async createNetwork(request) {
        const network = await this.docker.createNetwork({
            Name: request.name,
            Internal: request.internal,
            Labels: request.labels,
            CheckDuplicate: true,
            EnableIPv6: false,
            Driver: "bridge",
            ...(request.options ? { Options: request.options } : {}),
        });
        return network.id;
    }
    async removeNetwork(nameOrId) {
        try {
            await this.docker.getNetwork(nameOrId).remove();
        }
        catch (error) {
            if (!(0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error))
                throw error;
        }
    }
    async listNetworks(labels) {
        const networks = await this.docker.listNetworks({ filters: labelFilters(labels) });
        return networks.map((n) => ({ id: n.Id, name: n.Name, labels: n.Labels ?? {} }));
    }
    async networkSubnets(nameOrId) {
        const info = (await this.docker.getNetwork(nameOrId).inspect());
        return (info.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s) => Boolean(s));
    }
    async createContainer(request) {
        const container = await this.docker.createContainer({
            name: request.name,
            Image: request.image,
            Cmd: request.cmd,
            User: request.user,
            ...(request.workingDir ? { WorkingDir: request.workingDir } : {}),
            Env: envList(request.env),
            Labels: request.labels,
            HostConfig: {
                NetworkMode: request.network,
                CapDrop: request.capDrop,
                SecurityOpt: request.securityOpt,
                ...(request.memoryBytes ? { Memory: request.memoryBytes, MemorySwap: request.memoryBytes } : {}),
                ...(request.nanoCpus ? { NanoCpus: request.nanoCpus } : {}),
                ...(request.pidsLimit ? { PidsLimit: request.pidsLimit } : {}),
                ...(request.runtime ? { Runtime: request.runtime } : {}),
                ...(request.readonlyRootfs ? { ReadonlyRootfs: true } : {}),
                ...(request.tmpfs ? { Tmpfs: request.tmpfs } : {}),
                ...(request.dns?.length ? { Dns: request.dns } : {}),
            },
            NetworkingConfig: {
                EndpointsConfig: { [request.network]: { Aliases: request.networkAliases ?? [] } },
            },
        });
        return container.id;
    }
    async connectNetwork(container, network, aliases) {
        await this.docker.getNetwork(network).connect({ Container: container, EndpointConfig: { Aliases: aliases } });
    }
    async startContainer(container) {
        await this.docker.getContainer(container).start();
    }
    async removeContainer(container) {
        try {
            await this.docker.getContainer(container).remove({ force: true, v: true });
        }
        catch (error) {
            // 409: removal already in progress — the container is going away either way.
            const code = error.statusCode;
            if (!(0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error) && code !== 409)
                throw error;
        }
    }
    async listContainers(labels) {
        const containers = await this.docker.listContainers({ all: true, filters: labelFilters(labels) });
        return containers.map((c) => ({
            id: c.Id,
            name: (c.Names[0] ?? c.Id).replace(/^\//, ""),
            labels: c.Labels ?? {},
            running: c.State === "running",
        }));
    }
    async isRunning(container) {
        try {
            const info = await this.docker.getContainer(container).inspect();
            return info.State.Running;
        }
        catch (error) {
            if ((0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error))
                return false;
            throw error;
        }
    }
    async waitForLogLine(container, onLine, timeoutMs) {
        const raw = (await this.docker
            .getContainer(container)
            .logs({ follow: true, stdout: true, stderr: false }));
        const stdout = new node_stream__WEBPACK_IMPORTED_MODULE_1__.PassThrough();
        try {
            return await new Promise((resolve) => {
                const timer = setTimeout(() => resolve("timeout"), timeoutMs);
                const done = (how) => {
                    clearTimeout(timer);
                    resolve(how);
                };
                const lines = lineSplitter((line) => {
                    if (onLine(line))
                        done("matched");
                });
                stdout.on("data", (chunk) => lines.push(chunk));
                raw.on("end", () => {
                    lines.flush();
                    done("exited");
                });
                raw.on("error", () => done("exited"));
                this.docker.modem.demuxStream(raw, stdout, new node_stream__WEBPACK_IMPORTED_MODULE_1__.PassThrough());
            });
        }
        finally {
            raw.destroy();
        }
    }
    async followLogs(container, onLine) {
        const raw = (await this.docker
            .getContainer(container)
            .logs({ follow: true, stdout: true, stderr: false }));
        const stdout = new node_stream__WEBPACK_IMPORTED_MODULE_1__.PassThrough();
        const lines = lineSplitter(onLine);
        stdout.on("data", (chunk) => lines.push(chunk));
        const ended = new Promise((resolve) => {
            raw.on("end", resolve);
            raw.on("close", resolve);
            raw.on("error", () => resolve());
        });
        this.docker.modem.demuxStream(raw, stdout, new node_stream__WEBPACK_IMPORTED_MODULE_1__.PassThrough());
        return {
            async stop() {
                // Give lines already on their way a moment to arrive before the stream is cut.
                await Promise.race([ended, new Promise((r) => setTimeout(r, 200))]);
                raw.destroy();
                lines.flush();
            },
        };
    }
    async logsTail(container, lines) {
        try {
            const buffer = (await this.docker
                .getContainer(container)
                .logs({ stdout: true, stderr: true, tail: lines, follow: false }));
            return demuxBuffer(buffer);
        }
        catch (error) {
            if ((0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error))
                return "";
            throw error;
        }
    }
    async putArchive(container, path, tar) {
        await this.docker.getContainer(container).putArchive(tar, { path });
    }
    async getArchive(container, path) {
        try {
            return (await this.docker.getContainer(container).getArchive({ path }));
        }
        catch (error) {
            if ((0,_client_js__WEBPACK_IMPORTED_MODULE_2__/* .isNotFound */ .c4)(error))
                return null;
            throw error;
        }
    }
    async exec(container, request, handlers = {}) {
        const exec = await this.docker.getContainer(container).exec({
            Cmd: request.cmd,
            User: request.user,
            ...(request.workingDir ? { WorkingDir: request.workingDir } : {}),
            Env: envList(request.env),
            AttachStdout: true,
            AttachStderr: true,
            AttachStdin: false,
            Tty: false,
        });
        const stream = (await exec.start({ hijack: true, stdin: false }));
        try {
            const stdout = new node_stream__WEBPACK_IMPORTED_MODULE_1__.PassThrough();
            const stderr = new node_stream__WEBPACK_IMPORTED_MODULE_1__.PassThrough();
            stdout.on("data", (c) => handlers.stdout?.(c));
            stderr.on("data", (c) => handlers.stderr?.(c));
            this.docker.modem.demuxStream(stream, stdout, stderr);
            await new Promise((resolve) => {
                stream.on("end", resolve);
                stream.on("close", resolve);
                stream.on("error", () => resolve());
            });
        }
        finally {
            stream.destroy();
        }
        // The output stream can close a moment before the engine records the exit code.
        for (let i = 0; i < 100; i++) {
            const info = await exec.inspect();
            if (!info.Running)
                return info.ExitCode ?? -1;
            await new Promise((r) => setTimeout(r, 50));
        }
        return -1;
    }
}
/** Decodes Docker's multiplexed log framing (8-byte headers) from a whole buffer. */
function demuxBuffer(buffer) {
    if (!Buffer.isBuffer(buffer))
        return String(buffer);
    const parts = [];
    let offset = 0;
    while (offset + 8 <= buffer.length) {
        const size = buffer.readUInt32BE(offset + 4);
        parts.push(buffer.subarray(offset + 8, offset + 8 + size).toString("utf8"));
        offset += 8 + size;
    }
    return parts.join("");
}


/***/ })

};
