/**
 * Loopback checks: whether a listen address or a URL stays on this machine.
 * Addresses are normalised by the WHATWG URL parser, so every spelling of a
 * loopback address counts (`127.0.0.1`, `[::1]`, `0:0:0:0:0:0:0:1`,
 * `::ffff:127.0.0.1`, `LOCALHOST`).
 *
 * @module
 */

/** Whether a normalised URL host (`hostname` of a `URL`) is loopback. */
function loopbackHostname(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" ||
    /^127\.\d+\.\d+\.\d+$/.test(hostname) ||
    /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(hostname);
}

/** Whether `host` (a listen address: name, IPv4, IPv6 with or without brackets) is loopback. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim();
  if (h === "" || /[/@?#\s]/.test(h)) return false;
  const bracketed = h.includes(":") && !h.startsWith("[") ? `[${h}]` : h;
  try {
    return loopbackHostname(new URL(`http://${bracketed}/`).hostname);
  } catch {
    return false;
  }
}

/** Whether `url` is an `http:` or `https:` URL, without credentials, whose host is loopback. */
export function isLoopbackUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  return (u.protocol === "http:" || u.protocol === "https:") && u.username === "" &&
    u.password === "" && loopbackHostname(u.hostname);
}
