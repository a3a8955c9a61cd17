/**
 * The action's one bundle (dist/action/index.js). action.yml's main and post are
 * each a two-line file the build writes (dist/main/index.js, dist/post/index.js)
 * that calls its step here, so the two steps share every chunk and neither has to
 * guess which step it is.
 */
export { main } from "./main.js";
export { post } from "./post-entry.js";
