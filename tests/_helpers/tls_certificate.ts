/**
 * A throw-away self-signed TLS server certificate for `localhost` and
 * 127.0.0.1, made with the machine's `openssl`.
 *
 * @module
 */

import { assert } from "./assert.ts";

/** Write `NAME.crt` and `NAME.key` into `dir`; returns their paths. */
export async function makeCertificate(
  dir: string,
  name = "server",
): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/${name}.crt`;
  const key = `${dir}/${name}.key`;
  const made = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      cert,
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-addext",
      "keyUsage=digitalSignature,keyEncipherment",
      "-addext",
      "extendedKeyUsage=serverAuth",
    ],
    stdout: "null",
    stderr: "null",
  }).output();
  assert(made.success, "openssl could not make a test certificate");
  return { cert, key };
}
