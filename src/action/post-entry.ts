/**
 * The action's post step (bundled to dist/post/index.js): wires the real toolkit,
 * Docker client and cache client to `runPost`.
 */
import "../dirname-shim.js";
import * as cache from "@actions/cache";
import * as core from "@actions/core";
import { connectDocker } from "../docker/dockerode.js";
import { runPost } from "./post.js";

await runPost({ core, docker: connectDocker, cache, env: process.env, cwd: process.cwd() });
