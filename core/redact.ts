/**
 * Keeping credentials out of everything DES prints: logs, configuration
 * errors, `des env`. A URL's password (`scheme://user:password@host`) and
 * credential query parameters (`?password=…`, `sslpassword`, `token`,
 * `secret`, a presigned S3 URL's `X-Amz-Signature`) are replaced by `***`;
 * the rest of the text stays as it was, so an operator can still see which
 * host and user are meant.
 *
 * @module
 */

// Starts only at a separator and has no nested quantifier: linear in the text's length.
const QUERY_SECRET =
  /([?&;](?:password|sslpassword|passwd|token|secret|access_token|x-amz-signature)=)[^&;\s"']*/gi;
const AUTHORITY_END = new Set(["/", "?", "#", " ", "\t", "\n", "\r", '"', "'", "\\"]);

/** `scheme://user:password@host` → `scheme://user:***@host`, in one left-to-right scan. */
function redactUrlPasswords(text: string): string {
  let out = "";
  let from = 0;
  let at = text.indexOf("://");
  while (at >= 0) {
    // The userinfo ends at the authority's last "@" (a raw "@" may sit in the password).
    let end = at + 3;
    let colon = -1;
    let lastAt = -1;
    while (end < text.length && !AUTHORITY_END.has(text[end])) {
      if (text[end] === ":" && colon < 0 && lastAt < 0) colon = end;
      if (text[end] === "@") lastAt = end;
      end++;
    }
    if (lastAt >= 0 && colon >= 0 && colon < lastAt) {
      out += `${text.slice(from, colon + 1)}***`;
      from = lastAt;
    }
    at = text.indexOf("://", end);
  }
  return from === 0 ? text : out + text.slice(from);
}

/** Text with every URL password and credential query parameter replaced by `***`. */
export function redactCredentials(text: string): string {
  const urls = text.includes("://") ? redactUrlPasswords(text) : text;
  return urls.includes("=") ? urls.replace(QUERY_SECRET, "$1***") : urls;
}

/** Names of settings whose whole value is a secret (shown as `(set)`). */
export const SECRET_SETTING = /SECRET|PASSWORD|TOKEN|KEYS/;

/**
 * How the value of setting `name` may be shown: `(set)` for a secret
 * setting, the value with its credentials redacted otherwise.
 *
 * @example
 * ```ts
 * displayValue("DES_DATABASE_URL", "postgres://des:hunter2@db/des"); // "postgres://des:***@db/des"
 * ```
 */
export function displayValue(name: string, raw: string): string {
  if (SECRET_SETTING.test(name)) return raw === "" ? "" : "(set)";
  return redactCredentials(raw);
}
