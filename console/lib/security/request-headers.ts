// The request header the proxy (proxy.ts) sets on every request it passes on, for the render to
// read. The proxy always overwrites it, so a client cannot supply its own.

/** The page asked for, path and query ("/traces?status=error"), for sign-in to return to. */
export const PATH_HEADER = "x-troupe-path";
